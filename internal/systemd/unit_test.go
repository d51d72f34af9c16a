package systemd

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Entry
		wantBad []*SyntaxError
	}{
		{
			name: "debian_ssh_service",
			in: `[Unit]
Description=OpenBSD Secure Shell server
Documentation=man:sshd(8) man:sshd_config(5)
After=network.target auditd.service
ConditionPathExists=!/etc/ssh/sshd_not_to_be_run

[Service]
EnvironmentFile=-/etc/default/ssh
ExecStartPre=/usr/sbin/sshd -t
ExecStart=/usr/sbin/sshd -D $SSHD_OPTS
ExecReload=/usr/sbin/sshd -t
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
Restart=on-failure
RestartPreventExitStatus=255
Type=notify
RuntimeDirectory=sshd
RuntimeDirectoryMode=0755

[Install]
WantedBy=multi-user.target
Alias=sshd.service
`,
			want: []Entry{
				{"Unit", "Description", "OpenBSD Secure Shell server", 2},
				{"Unit", "Documentation", "man:sshd(8) man:sshd_config(5)", 3},
				{"Unit", "After", "network.target auditd.service", 4},
				{"Unit", "ConditionPathExists", "!/etc/ssh/sshd_not_to_be_run", 5},
				{"Service", "EnvironmentFile", "-/etc/default/ssh", 8},
				{"Service", "ExecStartPre", "/usr/sbin/sshd -t", 9},
				{"Service", "ExecStart", "/usr/sbin/sshd -D $SSHD_OPTS", 10},
				{"Service", "ExecReload", "/usr/sbin/sshd -t", 11},
				{"Service", "ExecReload", "/bin/kill -HUP $MAINPID", 12},
				{"Service", "KillMode", "process", 13},
				{"Service", "Restart", "on-failure", 14},
				{"Service", "RestartPreventExitStatus", "255", 15},
				{"Service", "Type", "notify", 16},
				{"Service", "RuntimeDirectory", "sshd", 17},
				{"Service", "RuntimeDirectoryMode", "0755", 18},
				{"Install", "WantedBy", "multi-user.target", 21},
				{"Install", "Alias", "sshd.service", 22},
			},
		},
		{
			name: "continuation_comments_and_whitespace",
			in: "\xef\xbb\xbf# comment\r\n; other comment\r\n[Service]\r\n  ExecStart = /bin/sh -c \\\n" +
				"   'echo a; \\\n# a comment inside the continuation\n  echo b'\nUser =  nobody  \n",
			want: []Entry{
				{"Service", "ExecStart", "/bin/sh -c     'echo a;    echo b'", 4},
				{"Service", "User", "nobody", 8},
			},
		},
		{
			name: "escaped_backslash_is_not_continuation",
			in:   "[Service]\nExecStart=/bin/echo a\\\\\nUser=x\n",
			want: []Entry{
				{"Service", "ExecStart", `/bin/echo a\\`, 2},
				{"Service", "User", "x", 3},
			},
		},
		{
			name: "continuation_at_eof",
			in:   "[Service]\nExecStart=/bin/true \\",
			want: []Entry{{"Service", "ExecStart", "/bin/true", 2}},
		},
		{
			name: "empty_assignment_kept",
			in:   "[Service]\nExecStart=\nExecStart=/usr/bin/new\n",
			want: []Entry{
				{"Service", "ExecStart", "", 2},
				{"Service", "ExecStart", "/usr/bin/new", 3},
			},
		},
		{
			name: "malformed_lines",
			in:   "Foo=bar\n[Unit\nDescription=x\n[]\n[Service]\nno equals sign\n=value\nUser=root\n",
			want: []Entry{{"Service", "User", "root", 8}},
			wantBad: []*SyntaxError{
				{1, "assignment outside of section"},
				{2, `invalid section header "[Unit"`},
				{3, "assignment outside of section"},
				{4, "empty section name"},
				{6, "missing '='"},
				{7, "empty key"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantBad, bad); diff != "" {
				t.Errorf("syntax errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLineTooLong(t *testing.T) {
	in := "[Service]\nExecStart=" + strings.Repeat("a", maxLine+10) + "\n"
	if _, _, err := Parse(strings.NewReader(in)); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("Parse: got error %v, want ErrLineTooLong", err)
	}
}

func TestUnitApply(t *testing.T) {
	u := &Unit{}
	u.Apply([]Entry{
		{Section: "Service", Key: "ExecStart", Value: "/usr/bin/old --a"},
		{Section: "Service", Key: "User", Value: "www-data"},
		{Section: "Install", Key: "WantedBy", Value: "multi-user.target graphical.target"},
	})
	u.Apply([]Entry{ // a drop-in
		{Section: "Service", Key: "ExecStart", Value: ""},
		{Section: "Service", Key: "ExecStart", Value: "/usr/bin/new"},
		{Section: "Service", Key: "ExecStart", Value: "/usr/bin/second"},
		{Section: "Service", Key: "User", Value: "app"},
		{Section: "Install", Key: "WantedBy", Value: "default.target"},
	})
	got := map[string]any{
		"ExecStart": u.Values("Service", "ExecStart"),
		"User":      u.Value("Service", "User"),
		"WantedBy":  u.Words("Install", "WantedBy"),
		"Missing":   u.Value("Service", "Group"),
	}
	want := map[string]any{
		"ExecStart": []string{"/usr/bin/new", "/usr/bin/second"},
		"User":      "app",
		"WantedBy":  []string{"multi-user.target", "graphical.target", "default.target"},
		"Missing":   "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unit (-want +got):\n%s", diff)
	}
}

// FuzzParse checks that Parse never panics, that every entry has a
// section and a key, that line numbers lie inside the input and never
// decrease, and that writing the entries back out in canonical form and
// parsing them again gives the same entries.
func FuzzParse(f *testing.F) {
	f.Add([]byte("[Unit]\nDescription=x\n[Service]\nExecStart=/bin/a \\\n  -b\nExecStart=\n# c\n;d\n"))
	f.Add([]byte("[Timer]\nOnCalendar=*-*-* 06,18:00\nRandomizedDelaySec=12h\nPersistent=true\n[Install]\nWantedBy=timers.target\n"))
	f.Add([]byte("Foo=bar\n[x\n[]\n[S]\nnoeq\n=v\nK=v\\"))
	f.Add([]byte("[S]\r\nA=\\\\\r\nB=\\\n#c\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, bad, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		prev := 0
		for _, e := range entries {
			if e.Section == "" || e.Key == "" {
				t.Fatalf("entry without section or key: %+v", e)
			}
			if e.Line < prev || e.Line < 1 || e.Line > lines {
				t.Fatalf("entry line %d out of order or range (prev %d, %d lines)", e.Line, prev, lines)
			}
			prev = e.Line
		}
		for _, b := range bad {
			if b.Line < 1 || b.Line > lines {
				t.Fatalf("syntax error line %d out of range (%d lines)", b.Line, lines)
			}
		}
		if len(entries)+len(bad) > lines {
			t.Fatalf("%d entries and %d errors from %d lines", len(entries), len(bad), lines)
		}
		var buf bytes.Buffer
		section := ""
		for _, e := range entries {
			if strings.ContainsAny(e.Section+e.Key+e.Value, "\n\r") {
				return // not representable on one line
			}
			if e.Section != section {
				buf.WriteString("[" + e.Section + "]\n")
				section = e.Section
			}
			line := e.Key + "=" + e.Value
			if escapedAtEnd([]byte(line)) {
				line += " " // "A=\\ " holds a backslash; "A=\\" continues
			}
			buf.WriteString(line + "\n")
		}
		again, bad2, err := Parse(&buf)
		if err != nil || len(bad2) != 0 {
			t.Fatalf("canonical form does not parse cleanly: %v %v\n%s", err, bad2, buf.String())
		}
		for i := range again {
			again[i].Line = entries[i].Line
		}
		if diff := cmp.Diff(entries, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s\n%s", diff, buf.String())
		}
	})
}
