package yara

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/vigilsec/vigil/internal/testutil"
)

// benchRuleFiles are the rule files of the scan benchmark (about 100 rules). The global
// rule files are left out because a failing global rule would disable every rule, and
// xor.yar because its 256-key strings dominate; regex.yar is included with its slow
// (atom-less) strings.
var benchRuleFiles = []string{
	"testdata/diff/text.yar", "testdata/diff/hex.yar",
	"testdata/diff/base64.yar", "testdata/diff/cond.yar",
	"testdata/diff/rules.yar", "testdata/diff/math.yar", "testdata/diff/hash.yar",
	"testdata/diff/elf.yar", "testdata/diff/mixed.yar", "testdata/diff/linux.yar",
	"../../rules/yara/miners.yar", "../../rules/yara/backdoors.yar", "../../rules/yara/packed.yar",
}

const benchSize = 64 << 20

// benchData concatenates /usr/bin binaries into a 64 MiB buffer.
func benchData(b *testing.B) []byte {
	b.Helper()
	names, _ := filepath.Glob("/usr/bin/*")
	sort.Strings(names)
	var buf bytes.Buffer
	for _, n := range names {
		if buf.Len() >= benchSize {
			break
		}
		fi, err := os.Lstat(n)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		d, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		buf.Write(d)
	}
	if buf.Len() < benchSize {
		b.Skipf("only %d bytes of /usr/bin binaries available", buf.Len())
	}
	return buf.Bytes()[:benchSize]
}

func benchSources(b *testing.B) []Source {
	b.Helper()
	return readSources(b, benchRuleFiles)
}

// BenchmarkScan64MiB scans 64 MiB of /usr/bin binaries with the benchmark rule set.
func BenchmarkScan64MiB(b *testing.B) {
	data := benchData(b)
	r, _, err := Compile(CompileOptions{}, benchSources(b)...)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(r.Len()), "rules")
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Scan(data, ScanOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkYaraCLI64MiB runs /usr/bin/yara on the same data and rules, for comparison
// (the time includes process start and rule compilation, a few milliseconds).
func BenchmarkYaraCLI64MiB(b *testing.B) {
	bin := testutil.RequireCommand(b, "yara")
	data := benchData(b)
	dir := b.TempDir()
	var all bytes.Buffer
	for _, s := range benchSources(b) {
		all.Write(s.Data)
		all.WriteByte('\n')
	}
	rules := filepath.Join(dir, "bench.yar")
	target := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(rules, all.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(target, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out, err := exec.Command(bin, "-w", "-p", "1", rules, target).CombinedOutput(); err != nil {
			b.Fatalf("yara: %v: %s", err, out)
		}
	}
}
