package fix

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/vuln/match"
)

// argvSafe reports whether s can be passed to apt as a pkg=ver argument:
// no option, no whitespace, no '=' or '/' that would change its meaning.
func argvSafe(s string) bool {
	return s != "" && !strings.HasPrefix(s, "-") && !strings.ContainsAny(s, " \t\n\r=/\x00")
}

func FuzzValidVersion(f *testing.F) {
	for _, s := range []string{"1.0-1", "2.36-9+deb12u3", "1:9.2p1-2+deb12u3", "1.0~rc1-1", "-1", "1:", "1.0-", "0:0-0", "1:2:3-4-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidVersion(s) {
			return
		}
		if !argvSafe(s) {
			t.Fatalf("ValidVersion accepted %q", s)
		}
		if _, err := match.Parse("Debian", s); err != nil {
			t.Fatalf("ValidVersion accepted %q, which the Debian ordering rejects: %v", s, err)
		}
		if c, err := compareDeb(s, s); err != nil || c != 0 {
			t.Fatalf("compare %q with itself = %d, %v", s, c, err)
		}
	})
}

func FuzzValidPackageName(f *testing.F) {
	for _, s := range []string{"libc6", "libc6:amd64", "g++", "-o", "a:", "x/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidPackageName(s) && !argvSafe(s) {
			t.Fatalf("ValidPackageName accepted %q", s)
		}
	})
}

func FuzzParseMadison(f *testing.F) {
	f.Add([]byte(madisonGlibc))
	f.Add([]byte("vigil-fixture | 1.0-2+b1 | file:/tmp/x/repo ./ Packages\n"))
	f.Add([]byte("a | b\n| | |\n x | -o | Packages"))
	f.Fuzz(func(t *testing.T, data []byte) {
		versions, bad := parseMadison(data)
		lines := 0
		sources := 0
		for l := range bytes.Lines(data) {
			s := strings.TrimSpace(string(l))
			if s == "" {
				continue
			}
			lines++
			if f := strings.Split(s, "|"); len(f) == 3 && !strings.HasSuffix(strings.TrimSpace(f[2]), "Packages") {
				sources++
			}
		}
		if len(versions) > lines-sources-len(bad) {
			t.Fatalf("%d versions from %d lines (%d source, %d bad)", len(versions), lines, sources, len(bad))
		}
		if lines != sources+len(bad) && len(versions) == 0 {
			t.Fatalf("no versions from %d lines (%d source, %d bad)", lines, sources, len(bad))
		}
		for _, v := range versions {
			if !ValidVersion(v) {
				t.Fatalf("parseMadison returned invalid version %q", v)
			}
		}
	})
}

func FuzzParseDpkgQuery(f *testing.F) {
	f.Add([]byte(dpkgGlibc))
	f.Add([]byte("x\ty\n\t\t\t\t\t\t\nlibc6\tlibc6\tamd64\t-1\tglibc\t1\tii \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, bad := parseDpkgQuery(data)
		lines := 0
		for l := range bytes.Lines(data) {
			if len(bytes.TrimSpace(bytes.TrimSuffix(l, []byte("\n")))) > 0 {
				lines++
			}
		}
		if len(pkgs)+len(bad) != lines {
			t.Fatalf("%d packages + %d bad lines != %d lines", len(pkgs), len(bad), lines)
		}
		for _, p := range pkgs {
			if !ValidPackageName(p.Binary) || (p.Version != "" && !ValidVersion(p.Version)) {
				t.Fatalf("parseDpkgQuery returned %+v", p)
			}
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"format":1,"manager":"apt","packages":[{"package":"libc6:amd64","installed":"2.36-9+deb12u1","target":"2.36-9+deb12u4"}],"outcome":{"status":"succeeded","changed":[{"package":"libc-bin","before":"2.36-9+deb12u1","after":"2.36-9+deb12u4"},{"package":"libnew1","before":"","after":"1.0-1"}]}}`))
	f.Add([]byte(`{"format":1,"manager":"apt","packages":[{"package":"-o","installed":"1"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := parseRecord(data)
		if err != nil {
			return
		}
		want, added := rec.restoreTargets()
		for pkg, v := range want {
			if !ValidPackageName(pkg) || !ValidVersion(v) {
				t.Fatalf("accepted record restores %q=%q", pkg, v)
			}
		}
		for _, pkg := range added {
			if !ValidPackageName(pkg) {
				t.Fatalf("accepted record names %q", pkg)
			}
		}
	})
}
