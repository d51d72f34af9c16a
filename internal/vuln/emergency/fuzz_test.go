package emergency

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, pat := range []string{"../../../checks/*.yaml", "testdata/bad/*.yml"} {
		paths, _ := filepath.Glob(pat)
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yml", data)
		if err != nil {
			// Every error names the file.
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Fatalf("error %q is not a ParseError naming the file", err)
			}
			return
		}
		if c.ID == "" || c.Title == "" || len(c.Affected)+len(c.Conditions) == 0 {
			t.Fatalf("accepted an incomplete check: %+v", c)
		}
		for _, r := range c.Affected {
			if (r.matcher == nil) == (r.Archive == nil) {
				t.Fatalf("rule at line %d: want exactly one of a matcher and an archive spec", r.Line)
			}
		}
	})
}

func FuzzGlob(f *testing.F) {
	f.Add("**/*.{jar,war,ear}", "opt/app/lib/x.jar")
	f.Add("/etc/ssh/sshd_config", "etc/ssh/sshd_config")
	f.Add("/opt/**/lib/*.jar", "opt/lib/a.jar")
	f.Fuzz(func(t *testing.T, pattern, p string) {
		g, err := compileGlob(pattern)
		if err != nil {
			return
		}
		// A matching file's directories must not be pruned.
		if g.Match(p) {
			for i := range len(p) {
				if p[i] == '/' && !g.MayContain(p[:i]) {
					t.Fatalf("%q matches %q but MayContain(%q) is false", pattern, p, p[:i])
				}
			}
		}
	})
}
