package assess

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// shellWords splits a command the way a POSIX shell would for the subset
// quote produces (bare safe characters, single-quoted strings, spaces
// between words). Any other character outside quotes is an error: it would
// mean the shell might interpret data.
func shellWords(cmd string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case c == ' ':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'':
			j := strings.IndexByte(cmd[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated quote")
			}
			cur.WriteString(cmd[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '\\' && i+1 < len(cmd) && cmd[i+1] == '\'':
			cur.WriteByte('\'')
			i++
			in = true
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("@%+=:,./_-", c) >= 0:
			cur.WriteByte(c)
			in = true
		default:
			return nil, errors.New("unquoted special character " + string(c))
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// FuzzRemediate checks that no package name or version can make a
// remediation command that the shell would read as anything but the
// intended words.
func FuzzRemediate(f *testing.F) {
	for _, s := range [][3]string{
		{"deb", "libc6", "2.36-9+deb12u3"},
		{"deb", "thunderbird", "1:115.7.0-1~deb12u1"},
		{"rpm", "openssl-libs", "1:3.0.7-25.el9_3"},
		{"npm", "@babel/traverse", "7.23.2"},
		{"pypi", "x; rm -rf /", "1.0"},
		{"golang", "$(id)", "`id`"},
		{"cargo", "it's", "1.0'\n"},
		{"composer", "a\x00b", "-rf"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, typ, name, fixed string) {
		r := Remediate(inventory.Package{Name: name, Type: typ}, fixed)
		if fixed == "" {
			if r.Command != "" || r.Note != NoFix {
				t.Fatalf("no fix: got %+v", r)
			}
			return
		}
		if r.Command == "" {
			return
		}
		words, err := shellWords(r.Command)
		if err != nil {
			t.Fatalf("%q: %v", r.Command, err)
		}
		if strings.HasPrefix(name, "-") || strings.HasPrefix(fixed, "-") {
			t.Fatalf("%q: option-like value got a command", r.Command)
		}
		// The name is in one word, whole; no word but the program's own
		// starts with "-" unless it is a fixed flag.
		joined := "\x00" + strings.Join(words, "\x00") + "\x00"
		if !strings.Contains(joined, name) {
			t.Fatalf("%q: name %q not passed through: %q", r.Command, name, words)
		}
		for _, w := range words[1:] {
			if strings.HasPrefix(w, "-") && w != "--only-upgrade" && w != "-u" && w != "-p" && w != "--precise" && w != "--conservative" {
				t.Fatalf("%q: unexpected option word %q", r.Command, w)
			}
		}
	})
}

// FuzzMatch matches fuzzed packages against the test records: no panic, an
// error only as a PartialError, and every finding is about an input
// package.
func FuzzMatch(f *testing.F) {
	f.Add("Go", "stdlib", "1.21.1", "")
	f.Add("Go", "golang.org/x/net", "v0.0.0-20220722155237-a158d28d115b", "")
	f.Add("Debian:12", "libc6", "2.36-9+deb12u1", "glibc")
	f.Add("Debian:12", "thunderbird-l10n-de", "1:115.6.0-1~deb12u1", "thunderbird")
	f.Add("PyPI", "Ansible.Core", "2.16.1", "")
	f.Add("npm", "example-hand-written-pkg", "1.0.0-rc.1", "")
	db := testDB(f)
	f.Fuzz(func(t *testing.T, eco, name, version, src string) {
		p := inventory.Package{Name: name, Version: version, SourceName: src, Ecosystem: eco, Locations: []string{"/x"}}
		fs, err := Match(context.Background(), db, []inventory.Package{p})
		var pe *plugin.PartialError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("Match(%+v): %v", p, err)
		}
		for _, fi := range fs {
			if fi.Target.Package.Name != name || fi.Target.Package.Version != version {
				t.Fatalf("finding about %+v, input %+v", fi.Target.Package, p)
			}
			if fi.Priority.Score < 0 || fi.Priority.Score > 100 {
				t.Fatalf("score %v", fi.Priority.Score)
			}
		}
	})
}
