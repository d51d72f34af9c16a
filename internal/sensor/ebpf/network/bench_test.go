package network

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/sensor/ebpf/internal/bpfcommon"
)

// BenchmarkConnectUDP measures a UDP socket+connect+close on loopback
// (nothing is sent) with the sensor off and on.
func BenchmarkConnectUDP(b *testing.B) {
	for _, mode := range []string{"sensor_off", "sensor_on"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "sensor_on" {
				startSensorB(b)
			}
			sa := &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}}
			for b.Loop() {
				fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
				if err != nil {
					b.Fatal(err)
				}
				if err := unix.Connect(fd, sa); err != nil {
					b.Fatal(err)
				}
				unix.Close(fd)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	d := &decoder{bootID: "0f1e2d3c000040008000000000000001", clock: bpfcommon.NewClock()}
	rec := record(1, 10, 6, v6lo, v6mapped, 40000, 443, -115, 0, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}
