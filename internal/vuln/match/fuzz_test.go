package match

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// fuzzEcosystems are the ecosystems FuzzCompare picks from by index.
var fuzzEcosystems = func() []string {
	var e []string
	for name := range ecosystems {
		e = append(e, name)
	}
	slices.Sort(e)
	return e
}()

// FuzzCompare checks that parsing never panics and that Compare is
// antisymmetric and reflexive for every version that parses.
func FuzzCompare(f *testing.F) {
	files, _ := filepath.Glob("testdata/versions/*.txt")
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		prefix, _, _ := strings.Cut(filepath.Base(path), "-")
		eco := fixtureEcosystems[prefix][0]
		idx := uint8(slices.Index(fuzzEcosystems, eco))
		n := 0
		for line := range strings.SplitSeq(string(data), "\n") {
			fs := strings.Split(line, " ")
			if len(fs) != 3 || n >= 40 {
				continue
			}
			f.Add(idx, fs[0], fs[2])
			n++
		}
	}
	f.Fuzz(func(t *testing.T, idx uint8, a, b string) {
		eco := fuzzEcosystems[int(idx)%len(fuzzEcosystems)]
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s: %q vs %q took %v", eco, a, b, d)
			}
		}()
		va, errA := Parse(eco, a)
		vb, errB := Parse(eco, b)
		if errA != nil || errB != nil {
			return
		}
		ab, err := va.Compare(vb)
		if err != nil {
			t.Fatalf("%s: Compare(%q, %q): %v", eco, a, b, err)
		}
		ba, err := vb.Compare(va)
		if err != nil {
			t.Fatalf("%s: Compare(%q, %q): %v", eco, b, a, err)
		}
		if ab != -ba {
			t.Errorf("%s: Compare(%q, %q) = %d but Compare(%q, %q) = %d", eco, a, b, ab, b, a, ba)
		}
		if c, _ := va.Compare(va); c != 0 {
			t.Errorf("%s: Compare(%q, itself) = %d", eco, a, c)
		}
	})
}

// FuzzAffected feeds arbitrary affected entries (as JSON) and versions to
// the matcher. It must not panic; an error means no result; a reported fix
// must sort above the version and must not itself be affected.
func FuzzAffected(f *testing.F) {
	records, _ := filepath.Glob("testdata/osv/*.json")
	for _, path := range records {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		var v osv.Vulnerability
		if err := json.Unmarshal(data, &v); err != nil {
			f.Fatal(err)
		}
		for _, a := range v.Affected {
			a.Versions = nil // keep seeds small; the list is fuzzed via JSON mutations
			js, err := json.Marshal(a)
			if err != nil {
				f.Fatal(err)
			}
			for _, r := range a.Ranges {
				for _, e := range r.Events {
					for _, s := range []string{e.Introduced, e.Fixed, e.LastAffected} {
						if s != "" && s != "0" {
							f.Add(string(js), s)
						}
					}
				}
			}
		}
	}
	f.Add(`{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:3.0.0-1"}]}],"versions":["3.0.11-1~deb12u2"]}`, "3.0.11-1~deb12u2")
	f.Add(`{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"limit":"3.0.0"},{"last_affected":"2.0.0"}]}]}`, "1.5.0")
	f.Fuzz(func(t *testing.T, affectedJSON, version string) {
		var a osv.Affected
		if err := json.Unmarshal([]byte(affectedJSON), &a); err != nil {
			return
		}
		eco := a.Package.Ecosystem
		vuln, fixed, err := Affected(eco, version, a)
		if err != nil {
			if vuln || fixed != "" {
				t.Fatalf("error %v with result %v %q", err, vuln, fixed)
			}
			return
		}
		if !vuln && fixed != "" {
			t.Fatalf("not vulnerable but fixed %q", fixed)
		}
		if fixed == "" {
			return
		}
		fv, ffixed, err := Affected(eco, fixed, a)
		if err != nil {
			t.Fatalf("fix %q for %q: %v", fixed, version, err)
		}
		if fv {
			t.Fatalf("fix %q for %q is itself affected (fix of fix %q)", fixed, version, ffixed)
		}
	})
}
