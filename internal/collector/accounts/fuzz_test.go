package accounts

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"github.com/vigilsec/vigil/internal/etcfiles"
	"github.com/vigilsec/vigil/internal/textio"
)

// inputLines splits s as lineReader does and reports each line.
func inputLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// checkAccounting asserts that record and error line numbers are within
// the input, strictly increasing, disjoint, and that every line that is
// not skippable produced a record or an error.
func checkAccounting(t *testing.T, in string, recLines []int, errs []*textio.LineError, skippable func(string) bool) {
	t.Helper()
	lines := inputLines(in)
	seen := map[int]string{}
	mark := func(kind string, n int) {
		if n < 1 || n > len(lines) {
			t.Fatalf("%s at line %d, input has %d lines", kind, n, len(lines))
		}
		if prev, dup := seen[n]; dup {
			t.Fatalf("line %d gave both %s and %s", n, prev, kind)
		}
		seen[n] = kind
	}
	last := 0
	for _, n := range recLines {
		if n <= last {
			t.Fatalf("record lines not increasing: %v", recLines)
		}
		last = n
		mark("record", n)
	}
	for _, e := range errs {
		mark("error", e.Line)
	}
	for i, l := range lines {
		if _, ok := seen[i+1]; !ok && !skippable(l) && len(l) <= maxLine {
			t.Fatalf("line %d %q gave neither record nor error", i+1, l)
		}
	}
}

// FuzzPasswordState checks the password state and dates of parsed shadow
// entries (etcfiles fuzzes the parsing itself).
func FuzzPasswordState(f *testing.F) {
	f.Add("root:$y$j9T$abc$def:19500:0:99999:7:::\ndaemon:*:19500:0:99999:7:::\nalice:!$6$s$h:19600:0:90:7:::\n")
	f.Add("guest::::::::\nold:!!\nx\nc:*:soon::::::\ne:*:0:0:-1:7:::\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, _, err := etcfiles.ParseShadow(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			state, scheme := PasswordState(e.Hash)
			switch state {
			case PasswordNone, PasswordLocked:
			case PasswordSet:
				if scheme == "" {
					t.Fatalf("set password %q without a scheme", e.Hash)
				}
			default:
				t.Fatalf("PasswordState(%q) = %q", e.Hash, state)
			}
			c, m := shadowDates(&e)
			if (c != nil) != (e.LastChange >= 0) || m != nil && (*m < 0 || *m >= noMaxDays) {
				t.Fatalf("shadowDates(%+v) = %v, %v", e, c, m)
			}
		}
	})
}

func FuzzParseSudoers(f *testing.F) {
	f.Add("Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n")
	f.Add("User_Alias OPS = %ops, \\\n  !guest : ADM = #0\nOPS ALL = (root) NOPASSWD: /bin/ls, !/bin/sh : db = sha256:AAAA /bin/x\n#include \"a b\"\n")
	f.Add("\"dom user\" ALL = CWD=/tmp TIMEOUT=5m /bin/ls # c\n#0 ALL = ALL\nalice ALL\nbob ALL = (ALL\n%#10 ALL=!ALL\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, errs, err := ParseSudoers(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		n := len(inputLines(in))
		for _, e := range errs {
			if e.Line < 1 || e.Line > n {
				t.Fatalf("error at line %d of %d", e.Line, n)
			}
		}
		last := 0
		for _, r := range s.Rules {
			if r.Line <= last || r.Line > n || len(r.Users) == 0 {
				t.Fatalf("rule %+v (previous line %d, %d lines)", r, last, n)
			}
			last = r.Line
			// The rule text alone parses to the same rule.
			again, errs2, _ := ParseSudoers(strings.NewReader(r.Text))
			if len(again.Rules) != 1 || len(errs2) != 0 {
				t.Fatalf("re-parse of %q: %+v %v", r.Text, again, errStrings(errs2))
			}
			a := again.Rules[0]
			if a.Grants != r.Grants || len(a.Users) != len(r.Users) {
				t.Fatalf("re-parse of %q: %+v, want %+v", r.Text, a, r)
			}
			for i := range a.Users {
				if a.Users[i].Negated != r.Users[i].Negated || squash(a.Users[i].Value) != squash(r.Users[i].Value) {
					t.Fatalf("re-parse of %q: users %+v, want %+v", r.Text, a.Users, r.Users)
				}
			}
		}
		for _, inc := range s.Includes {
			if inc.Path == "" || inc.Line < 1 || inc.Line > n {
				t.Fatalf("include %+v", inc)
			}
		}
		for _, a := range s.UserAliases {
			if !isAliasName(a.Name) || len(a.Members) == 0 {
				t.Fatalf("alias %+v", a)
			}
		}
	})
}

// squash collapses whitespace: joining continuation lines may change
// the spaces inside a quoted name.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func FuzzParseDoas(f *testing.F) {
	f.Add("permit persist :wheel\npermit nopass setenv { PATH -HOME } alice as root cmd /sbin/apk args update\ndeny bob\n")
	f.Add("permit nopass \"carl\" cmd \\\n /usr/bin/reboot # c\nallow x\npermit setenv { A\n")
	f.Fuzz(func(t *testing.T, in string) {
		rules, errs, err := ParseDoas(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		n := len(inputLines(in))
		for _, e := range errs {
			if e.Line < 1 || e.Line > n {
				t.Fatalf("error at line %d of %d", e.Line, n)
			}
		}
		for _, r := range rules {
			if r.Identity == "" || r.Line < 1 || r.Line > n {
				t.Fatalf("rule %+v of %d lines", r, n)
			}
			again, errs2, _ := ParseDoas(strings.NewReader(r.Text))
			if len(again) != 1 || len(errs2) != 0 || again[0].Permit != r.Permit || again[0].Restricted != r.Restricted {
				t.Fatalf("re-parse of %q: %+v %v, want %+v", r.Text, again, errStrings(errs2), r)
			}
		}
	})
}

func FuzzParseAuthorizedKeys(f *testing.F) {
	f.Add(edKey + " alice@laptop\n" + rsaKey + "\n")
	f.Add(`command="echo a,b",no-pty ` + edKey + " c\n" + `from="10.0.0.0/8",environment="X=\"q\" y" ` + ecKey + "\n")
	f.Add("ssh-ed25519 !!!\nssh-rsa " + strings.Fields(edKey)[1] + "\ngarbage\n# c\n\n" + `command="x ` + edKey)
	f.Fuzz(func(t *testing.T, in string) {
		keys, errs, err := ParseAuthorizedKeys(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		var lines []int
		all := inputLines(in)
		for _, k := range keys {
			lines = append(lines, k.Line)
			if !strings.HasPrefix(k.Fingerprint, "SHA256:") || k.Type == "" {
				t.Fatalf("key %+v", k)
			}
			// Where x/crypto also reads the line, it agrees.
			pk, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(all[k.Line-1]))
			if err != nil {
				continue
			}
			if got := ssh.FingerprintSHA256(pk); got != k.Fingerprint || pk.Type() != k.Type {
				t.Fatalf("line %q: fingerprint %s %s, x/crypto says %s %s", all[k.Line-1], k.Type, k.Fingerprint, pk.Type(), got)
			}
			if fmt.Sprintf("%q", opts) != fmt.Sprintf("%q", k.Options) {
				t.Fatalf("line %q: options %q, x/crypto says %q", all[k.Line-1], k.Options, opts)
			}
		}
		checkAccounting(t, in, lines, errs, func(l string) bool {
			l = strings.TrimSpace(l)
			return l == "" || l[0] == '#'
		})
	})
}

func FuzzParseUtmp(f *testing.F) {
	f.Add(utmpRecord(7, 812, "pts/0", "alice", "203.0.113.5", t0))
	f.Add(append(utmpRecord(2, 0, "~", "reboot", "6.1.0", t0), utmpRecord(7, 1, "tty1", "root", "", t0)[:100]...))
	f.Add(bytes.Repeat([]byte{0xff}, UtmpSize+1))
	f.Fuzz(func(t *testing.T, in []byte) {
		// Count the USER_PROCESS records independently.
		users, bad := 0, 0
		for off := 0; off+UtmpSize <= len(in); off += UtmpSize {
			rec, err := ParseUtmpRecord(in[off : off+UtmpSize])
			if err != nil {
				bad++
				continue
			}
			if rec.Type < 0 || rec.Type > 9 || !utf8.ValidString(rec.User+rec.Line+rec.Host) ||
				len(rec.Line) > 3*32 || len(rec.User) > 3*32 || len(rec.Host) > 3*256 {
				t.Fatalf("record %+v", rec)
			}
			if rec.Type == utUserProcess && rec.User != "" {
				users++
			}
		}
		if len(in)%UtmpSize != 0 {
			bad++
		}
		var reported []string
		res, err := readWtmp(bytes.NewReader(in), 5, func(string) bool { return true }, func(rec int, err error) {
			reported = append(reported, strconv.Itoa(rec)+": "+err.Error())
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(reported) != bad || len(res.recent) != min(users, 5) {
			t.Fatalf("readWtmp: %d logins, bad %q; want %d logins, %d bad", len(res.recent), reported, min(users, 5), bad)
		}
		logins := newestFirst(res.recent)
		for i := 1; i < len(logins); i++ {
			if logins[i].Time.After(logins[i-1].Time) {
				t.Fatalf("logins not newest first: %v", logins)
			}
		}
		// lastlog: any record decodes, and seeking past the end is no login.
		if len(in) >= LastlogSize {
			ParseLastlogRecord(in[:LastlogSize])
		}
		if _, _, _, ok, err := lastlogAt(bytes.NewReader(in), len(in)/LastlogSize+1); ok || err != nil && err != io.EOF {
			t.Fatalf("lastlog past the end: ok %v err %v", ok, err)
		}
	})
}
