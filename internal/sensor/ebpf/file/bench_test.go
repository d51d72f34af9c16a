package file

import (
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/internal/bpfcommon"
)

// BenchmarkSyscalls measures what the sensor adds to unwatched activity:
// a write-open (fd path walk and LPM lookup), a read-only open (with a
// read watch, the basename prefilter) and a rename (two name resolutions),
// each with the sensor off and on.
func BenchmarkSyscalls(b *testing.B) {
	dir := tempDir(b)
	p := filepath.Join(dir, "f")
	must(b, os.WriteFile(p, nil, 0o644))
	ops := []struct {
		name string
		fn   func() error
	}{
		{"open_write", func() error {
			fd, err := unix.Open(p, unix.O_WRONLY, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
		{"open_read", func() error {
			fd, err := unix.Open(p, unix.O_RDONLY, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
		{"rename", func() error {
			if err := unix.Rename(p, p+"2"); err != nil {
				return err
			}
			return unix.Rename(p+"2", p)
		}},
	}
	for _, mode := range []string{"sensor_off", "sensor_on"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "sensor_on" {
				startSensor(b, Config{WriteWatch: []string{"/etc/", "/usr/bin/"}, ReadWatch: []string{"/etc/shadow"}})
			}
			for _, op := range ops {
				b.Run(op.name, func(b *testing.B) {
					for b.Loop() {
						if err := op.fn(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkWriteStorm creates watched files as fast as one goroutine can
// and reports how many events were delivered and dropped per create, with
// the default ring buffer and a sink that only counts.
func BenchmarkWriteStorm(b *testing.B) {
	dir := tempDir(b)
	var got atomic.Uint64
	s, err := New(Config{WriteWatch: []string{dir + "/"}})
	must(b, err)
	startWith(b, s, sinkFunc(func(*event.Event) bool { got.Add(1); return true }))
	i := 0
	for b.Loop() {
		fd, err := unix.Open(filepath.Join(dir, strconv.Itoa(i)), unix.O_CREAT|unix.O_WRONLY, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		unix.Close(fd)
		i++
	}
	b.StopTimer()
	must(b, s.Close())
	st := s.Stats()
	b.ReportMetric(float64(got.Load())/float64(i), "delivered/op")
	b.ReportMetric(float64(st.KernelDropped)/float64(i), "dropped/op")
}

func BenchmarkDecode(b *testing.B) {
	d := &decoder{bootID: "0f1e2d3c000040008000000000000001", clock: bpfcommon.NewClock()}
	rec := record(5, "/tmp/a", "/etc/cron.d/a")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}
