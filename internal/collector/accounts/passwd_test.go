package accounts

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/etcfiles"
)

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
		e          etcfiles.ShadowEntry
		wantChange *time.Time
		wantMax    *int
	}{
		{"no_max", etcfiles.ShadowEntry{LastChange: 19500, MaxDays: 99999}, day(19500), nil},
		{"max_90", etcfiles.ShadowEntry{LastChange: 19723, MaxDays: 90}, day(19723), intp(90)},
		{"empty", etcfiles.ShadowEntry{LastChange: -1, MaxDays: -1}, nil, nil},
		{"must_change", etcfiles.ShadowEntry{LastChange: 0, MaxDays: 0}, day(0), intp(0)},
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
