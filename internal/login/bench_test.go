package login

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/authlog"
	"github.com/vigilsec/vigil/internal/detect"
	"github.com/vigilsec/vigil/internal/geoip"
	"github.com/vigilsec/vigil/internal/geoip/geoiptest"
)

// BenchmarkPipeline measures converted records per second through the
// shipped auth rules and the analyzer with a GeoIP database: a mix of
// failures from many addresses and successful logins.
func BenchmarkPipeline(b *testing.B) {
	rs, err := LoadRules()
	if err != nil {
		b.Fatal(err)
	}
	eng, err := detect.New(rs, detect.Options{})
	if err != nil {
		b.Fatal(err)
	}
	geo, err := geoip.OpenBytes(geoiptest.City(b, geoiptest.Places), geoiptest.ASN(b, geoiptest.Places))
	if err != nil {
		b.Fatal(err)
	}
	an, _ := New(Config{}, geo, nil)
	p := &Pipeline{Engine: eng, Analyzer: an}
	recs := make([]authlog.Event, 1024)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range recs {
		r := authlog.Event{Time: t0.Add(time.Duration(i) * time.Second), Service: "sshd", Kind: authlog.KindFailure,
			Method: "password", User: fmt.Sprintf("user%d", i%37), Count: 1,
			SourceIP: netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 200)})}
		if i%16 == 0 {
			r.Kind, r.Method, r.SourceIP = authlog.KindSuccess, "publickey", netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 250)})
		}
		recs[i] = r
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := recs[i%len(recs)]
		r.Time = r.Time.Add(time.Duration(i/len(recs)) * 1024 * time.Second)
		p.Handle(r)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkFullPath measures what `vigil scan logs` does with a syslog
// file, in input lines per second: read the lines (authlog.ReadSyslog),
// parse them, order the records by time, convert them and run them
// through the shipped auth rules and the login analyzer (with a GeoIP
// database): runScanLogs in internal/cli, minus the file. The input is a loghub file repeated fullPathCopies times in
// memory, each copy a day later than the one before, so aggregation
// windows see a long, realistic stream rather than one hour replayed.
// Run with -cpu 1 for the per-core figure; lines/cpu-s is the same per
// second of CPU time, steadier on a busy machine.
func BenchmarkFullPath(b *testing.B) {
	rs, err := LoadRules()
	if err != nil {
		b.Fatal(err)
	}
	eng, err := detect.New(rs, detect.Options{})
	if err != nil {
		b.Fatal(err)
	}
	geo, err := geoip.OpenBytes(geoiptest.City(b, geoiptest.Places), geoiptest.ASN(b, geoiptest.Places))
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"loghub-OpenSSH_2k.log", "loghub-Linux_2k.log"} {
		b.Run(name, func(b *testing.B) {
			data, err := os.ReadFile(loghubDir + name)
			if err != nil {
				b.Skipf("loghub corpus absent (%v)", err)
			}
			in, lines := repeatByDay(b, data, fullPathCopies)
			ref := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			records, alerts := 0, 0
			cpu0 := cpuTime(b)
			for b.Loop() {
				eng.Reset()
				an, err := New(Config{}, geo, nil)
				if err != nil {
					b.Fatal(err)
				}
				p := &Pipeline{Engine: eng, Analyzer: an}
				var recs Records
				err = authlog.ReadSyslog(bufio.NewReaderSize(bytes.NewReader(in), 64<<10), ref, recs.Add)
				if err != nil {
					b.Fatal(err)
				}
				alerts = 0
				for _, r := range recs.ByTime() {
					alerts += len(p.Alerts(r))
				}
				records = recs.Len()
			}
			cpu := cpuTime(b) - cpu0
			b.ReportMetric(float64(b.N)*float64(lines)/b.Elapsed().Seconds(), "lines/s")
			// The same per second of CPU time used by the process, which
			// other load on the machine does not lower.
			b.ReportMetric(float64(b.N)*float64(lines)/cpu.Seconds(), "lines/cpu-s")
			b.ReportMetric(float64(records), "records/op")
			b.ReportMetric(float64(alerts), "alerts/op")
		})
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fullPathCopies is how many times BenchmarkFullPath repeats its file.
const fullPathCopies = 50

// repeatByDay returns n copies of a syslog file whose lines start with
// RFC 3164 stamps, copy i moved n-1-i days earlier (so all fall in one
// year before the benchmark's reference time), and the number of lines.
func repeatByDay(b *testing.B, data []byte, n int) ([]byte, int) {
	const layout = "Jan _2 15:04:05"
	src := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var out bytes.Buffer
	for i := 0; i < n; i++ {
		shift := -(n - 1 - i)
		for _, l := range src {
			if len(l) > len(layout) {
				if t, err := time.Parse(layout, l[:len(layout)]); err == nil {
					out.WriteString(t.AddDate(0, 0, shift).Format(layout))
					l = l[len(layout):]
				}
			}
			out.WriteString(l)
			out.WriteByte('\n')
		}
	}
	if out.Len() == 0 {
		b.Fatal("empty input")
	}
	return out.Bytes(), n * len(src)
}
