package authlog

import (
	"os"
	"strings"
	"testing"
)

// BenchmarkParseLine parses whole files line by line; lines/s per core is
// reported as a metric (run with -cpu 1).
func BenchmarkParseLine(b *testing.B) {
	for _, c := range []struct{ name, path string }{
		{"fixtures", "testdata/auth.log"},
		{"loghub_OpenSSH_2k", sharedData + "/loghub-OpenSSH_2k.log"},
		{"loghub_Linux_2k", sharedData + "/loghub-Linux_2k.log"},
		{"fail2ban_sshd", sharedData + "/fail2ban-sshd"},
	} {
		b.Run(c.name, func(b *testing.B) {
			data, err := os.ReadFile(c.path)
			if err != nil {
				b.Skipf("%s not present: %v", c.path, err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				for _, l := range lines {
					if _, ok := ParseLine(l, ref); ok {
						n++
					}
				}
			}
			b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "lines/s")
			_ = n
		})
	}
}
