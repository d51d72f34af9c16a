package accounts

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

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
			in:      "a:x:1:1::/:/bin/sh\n" + strings.Repeat("x", maxLine+10) + "\nb:x:2:2::/:/bin/sh\n",
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

func TestPasswordState(t *testing.T) {
	tests := []struct {
		hash, state, scheme string
	}{
		{"", "none", ""},
		{"!", "locked", ""},
		{"*", "locked", ""},
		{"!!", "locked", ""},
		{"!*", "locked", ""},
		{"*LK*", "locked", ""},
		{"!$6$rounds=5000$salt$hash", "locked", "sha512"},
		{"!!$y$j9T$salt$hash", "locked", "yescrypt"},
		{"$1$salt$hash", "set", "md5"},
		{"$2a$10$abcdefghijklmnopqrstuu", "set", "bcrypt"},
		{"$2b$12$abc", "set", "bcrypt"},
		{"$2y$12$abc", "set", "bcrypt"},
		{"$5$salt$hash", "set", "sha256"},
		{"$6$salt$hash", "set", "sha512"},
		{"$y$j9T$salt$hash", "set", "yescrypt"},
		{"$gy$j9T$salt$hash", "set", "gost-yescrypt"},
		{"$7$CU..../....salt$hash", "set", "scrypt"},
		{"abJnggxhB/yWI", "set", "des"},
		{"_J9..CCCCXBrJUJV154M", "set", "bsdi-des"},
		{"x", "set", "unknown"},
		{"$99$what", "set", "unknown"},
		{"abJnggxhB/yW!", "set", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.hash, func(t *testing.T) {
			state, scheme := PasswordState(tt.hash)
			if state != tt.state || scheme != tt.scheme {
				t.Errorf("PasswordState(%q) = %q, %q; want %q, %q", tt.hash, state, scheme, tt.state, tt.scheme)
			}
		})
	}
}

func TestShadowDates(t *testing.T) {
	day := func(d int) *time.Time { t := time.Unix(int64(d)*86400, 0).UTC(); return &t }
	intp := func(i int) *int { return &i }
	tests := []struct {
		name       string
		e          ShadowEntry
		wantChange *time.Time
		wantMax    *int
	}{
		{"no_max", ShadowEntry{LastChange: 19500, MaxDays: 99999}, day(19500), nil},
		{"max_90", ShadowEntry{LastChange: 19723, MaxDays: 90}, day(19723), intp(90)},
		{"empty", ShadowEntry{LastChange: -1, MaxDays: -1}, nil, nil},
		{"must_change", ShadowEntry{LastChange: 0, MaxDays: 0}, day(0), intp(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, m := shadowDates(&tt.e)
			if diff := cmp.Diff(tt.wantChange, c); diff != "" {
				t.Errorf("last change (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantMax, m); diff != "" {
				t.Errorf("max days (-want +got):\n%s", diff)
			}
		})
	}
	if got := *day(19723); got.Format(time.DateOnly) != "2024-01-01" {
		t.Errorf("day 19723 = %s, want 2024-01-01", got)
	}
}

func TestInteractiveShell(t *testing.T) {
	tests := map[string]bool{
		"/bin/bash": true, "/bin/sh": true, "/usr/bin/zsh": true, "/bin/ash": true,
		"": false, "/usr/sbin/nologin": false, "/sbin/nologin": false, "/bin/false": false,
		"/usr/bin/false": false, "/bin/sync": false, "/sbin/shutdown": false, "/sbin/halt": false,
		"/bin/true": false,
	}
	for shell, want := range tests {
		if got := interactiveShell(shell); got != want {
			t.Errorf("interactiveShell(%q) = %v, want %v", shell, got, want)
		}
	}
}
