package etcfiles

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vigilsec/vigil/internal/textio"
)

// errStrings renders line errors for comparison.
func errStrings(errs []*textio.LineError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestParsePasswd(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []PasswdEntry
		wantErr []string
	}{
		{
			name: "debian",
			in: "root:x:0:0:root:/root:/bin/bash\n" +
				"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
				"_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n",
			want: []PasswdEntry{
				{Line: 1, Name: "root", Password: "x", UID: 0, GID: 0, Gecos: "root", Home: "/root", Shell: "/bin/bash"},
				{Line: 2, Name: "daemon", Password: "x", UID: 1, GID: 1, Gecos: "daemon", Home: "/usr/sbin", Shell: "/usr/sbin/nologin"},
				{Line: 3, Name: "_apt", Password: "x", UID: 42, GID: 65534, Home: "/nonexistent", Shell: "/usr/sbin/nologin"},
			},
		},
		{
			name: "comments_blank_nis_and_no_final_newline",
			in:   "# local\n\n   \n+@admins::::::\n-baduser\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/zsh",
			want: []PasswdEntry{
				{Line: 6, Name: "alice", Password: "x", UID: 1000, GID: 1000, Gecos: "Alice,,,", Home: "/home/alice", Shell: "/bin/zsh"},
			},
		},
		{
			name: "empty_password_and_shell",
			in:   "guest::1001:1001:::\n",
			want: []PasswdEntry{{Line: 1, Name: "guest", UID: 1001, GID: 1001}},
		},
		{
			name: "malformed_lines",
			in: "root:x:0:0:root:/root:/bin/bash\n" +
				"short:x:1\n" +
				"bob:x:abc:100::/home/bob:/bin/sh\n" +
				"neg:x:1:-1::/:/bin/sh\n" +
				":x:5:5::/:/bin/sh\n" +
				"extra:x:1:1::/:/bin/sh:more\n" +
				"big:x:4294967296:1::/:/bin/sh\n" +
				"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
			want: []PasswdEntry{
				{Line: 1, Name: "root", Password: "x", Gecos: "root", Home: "/root", Shell: "/bin/bash"},
				{Line: 8, Name: "nobody", Password: "x", UID: 65534, GID: 65534, Gecos: "nobody", Home: "/nonexistent", Shell: "/usr/sbin/nologin"},
			},
			wantErr: []string{
				"line 2: want 7 colon-separated fields, got 3",
				`line 3: user "bob": invalid uid "abc"`,
				`line 4: user "neg": invalid gid "-1"`,
				"line 5: empty user name",
				"line 6: want 7 colon-separated fields, got 8",
				`line 7: user "big": invalid uid "4294967296"`,
			},
		},
		{
			name:    "line_too_long",
			in:      "a:x:1:1::/:/bin/sh\n" + strings.Repeat("x", MaxLine+10) + "\nb:x:2:2::/:/bin/sh\n",
			want:    []PasswdEntry{{Line: 1, Name: "a", Password: "x", UID: 1, GID: 1, Home: "/", Shell: "/bin/sh"}, {Line: 3, Name: "b", Password: "x", UID: 2, GID: 2, Home: "/", Shell: "/bin/sh"}},
			wantErr: []string{"line 2: line longer than 1048576 bytes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs, err := ParsePasswd(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, errStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseGroup(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []GroupEntry
		wantErr []string
	}{
		{
			name: "rhel",
			in:   "root:x:0:\nwheel:x:10:alice,bob\nsshd:x:74:\n",
			want: []GroupEntry{
				{Line: 1, Name: "root"},
				{Line: 2, Name: "wheel", GID: 10, Members: []string{"alice", "bob"}},
				{Line: 3, Name: "sshd", GID: 74},
			},
		},
		{
			name: "alpine_busybox",
			in:   "root:x:0:root\nwheel:x:10:root,alice,\n",
			want: []GroupEntry{
				{Line: 1, Name: "root", Members: []string{"root"}},
				{Line: 2, Name: "wheel", GID: 10, Members: []string{"root", "alice"}},
			},
		},
		{
			name: "malformed",
			in:   "sudo:x:27:alice\nbroken:x\nbad:x:xx:\n",
			want: []GroupEntry{{Line: 1, Name: "sudo", GID: 27, Members: []string{"alice"}}},
			wantErr: []string{
				"line 2: want 4 colon-separated fields, got 2",
				`line 3: group "bad": invalid gid "xx"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs, err := ParseGroup(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, errStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseShadow(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []ShadowEntry
		wantErr []string
	}{
		{
			name: "debian",
			in: "root:$y$j9T$abc$def:19500:0:99999:7:::\n" +
				"daemon:*:19500:0:99999:7:::\n" +
				"alice:!$6$salt$hash:19600:0:90:7:::\n",
			want: []ShadowEntry{
				{Line: 1, Name: "root", Hash: "$y$j9T$abc$def", LastChange: 19500, MaxDays: 99999},
				{Line: 2, Name: "daemon", Hash: "*", LastChange: 19500, MaxDays: 99999},
				{Line: 3, Name: "alice", Hash: "!$6$salt$hash", LastChange: 19600, MaxDays: 90},
			},
		},
		{
			name: "empty_fields_and_short_line",
			in:   "guest::::::::\nold:!!\n",
			want: []ShadowEntry{
				{Line: 1, Name: "guest", LastChange: -1, MaxDays: -1},
				{Line: 2, Name: "old", Hash: "!!", LastChange: -1, MaxDays: -1},
			},
		},
		{
			name: "malformed",
			in:   "a:x:1:2:3:4:5:6:7:8\nb\nc:*:soon::::::\nd:*:1:0:never::::\ne:*:0:0:-1:7:::\n",
			want: []ShadowEntry{{Line: 5, Name: "e", Hash: "*", LastChange: 0, MaxDays: -1}},
			wantErr: []string{
				"line 1: want 9 colon-separated fields, got 10",
				"line 2: want 9 colon-separated fields, got 1",
				`line 3: user "c": invalid last change "soon"`,
				`line 4: user "d": invalid maximum age "never"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs, err := ParseShadow(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, errStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// inputLines splits s into lines as textio.Reader does.
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
// the input, strictly increasing for records, disjoint, and that every
// line that is not blank, a comment or NIS compat produced a record or an
// error.
func checkAccounting(t *testing.T, in string, recLines []int, errs []*textio.LineError) {
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
		skip := isBlankOrComment([]byte(l)) || isNIS([]byte(l))
		if _, ok := seen[i+1]; !ok && !skip && len(l) <= MaxLine {
			t.Fatalf("line %d %q gave neither record nor error", i+1, l)
		}
	}
}

func FuzzParsePasswd(f *testing.F) {
	f.Add("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
	f.Add("# c\n+@netgroup::::::\n-bad\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/zsh")
	f.Add("bad:x:abc:1::/:/bin/sh\nshort:x\n:x:1:1:::\n  lead:x:1:1:::\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, errs, err := ParsePasswd(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		var lines []int
		for _, e := range entries {
			lines = append(lines, e.Line)
			// A record written back parses to the same record.
			line := fmt.Sprintf("%s:%s:%d:%d:%s:%s:%s", e.Name, e.Password, e.UID, e.GID, e.Gecos, e.Home, e.Shell)
			again, errs2, _ := ParsePasswd(strings.NewReader(line))
			if len(again) != 1 || len(errs2) != 0 {
				t.Fatalf("re-parse of %q: %v %v", line, again, errStrings(errs2))
			}
			again[0].Line = e.Line
			if fmt.Sprint(again[0]) != fmt.Sprint(e) {
				t.Fatalf("round trip: %+v != %+v", again[0], e)
			}
		}
		checkAccounting(t, in, lines, errs)
	})
}

func FuzzParseGroup(f *testing.F) {
	f.Add("root:x:0:\nwheel:x:10:alice,bob\nsudo:x:27:alice,\n")
	f.Add("bad:x\n:x:1:\nok:x:4294967295: a , b \n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, errs, err := ParseGroup(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		var lines []int
		for _, e := range entries {
			lines = append(lines, e.Line)
			for _, m := range e.Members {
				if m == "" || strings.ContainsAny(m, ",:\n") || strings.TrimSpace(m) != m {
					t.Fatalf("bad member %q in %+v", m, e)
				}
			}
		}
		checkAccounting(t, in, lines, errs)
	})
}

func FuzzParseShadow(f *testing.F) {
	f.Add("root:$y$j9T$abc$def:19500:0:99999:7:::\ndaemon:*:19500:0:99999:7:::\nalice:!$6$s$h:19600:0:90:7:::\n")
	f.Add("guest::::::::\nold:!!\nx\nc:*:soon::::::\ne:*:0:0:-1:7:::\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, errs, err := ParseShadow(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		var lines []int
		for _, e := range entries {
			lines = append(lines, e.Line)
			if e.LastChange < -1 || e.MaxDays < -1 {
				t.Fatalf("days below -1: %+v", e)
			}
		}
		checkAccounting(t, in, lines, errs)
	})
}
