package file

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompileWatch(t *testing.T) {
	tests := []struct {
		name      string
		list      []string
		exactOnly bool
		want      []watchEntry
		wantErr   string
	}{
		{name: "dir_prefix_exact", list: []string{"/etc/", "/etc/rc*", "/root/.ssh/authorized_keys"},
			want: []watchEntry{{key: "/etc/"}, {key: "/etc/rc"}, {key: "/root/.ssh/authorized_keys", exact: true}}},
		{name: "exact_covered_by_dir", list: []string{"/etc/passwd", "/etc/"},
			want: []watchEntry{{key: "/etc/"}, {key: "/etc/passwd", exact: true, covered: true}}},
		{name: "exact_and_prefix_same_key", list: []string{"/etc/passwd", "/etc/passwd*"},
			want: []watchEntry{{key: "/etc/passwd"}}},
		{name: "root", list: []string{"/"}, want: []watchEntry{{key: "/"}}},
		{name: "duplicates", list: []string{"/a", "/a"}, want: []watchEntry{{key: "/a", exact: true}}},
		{name: "relative", list: []string{"etc/"}, wantErr: `watch entry 0 "etc/": not absolute`},
		{name: "empty", list: []string{"/a", ""}, wantErr: `watch entry 1 "": empty`},
		{name: "unclean", list: []string{"/etc/../tmp/"}, wantErr: `not clean (want "/tmp")`},
		{name: "double_slash", list: []string{"/etc//x"}, wantErr: "not clean"},
		{name: "inner_star", list: []string{"/e*c/"}, wantErr: "asterisk is allowed only at the end"},
		{name: "nul", list: []string{"/a\x00b"}, wantErr: "contains NUL"},
		{name: "too_long", list: []string{"/" + strings.Repeat("a", 255)}, wantErr: "longer than 255 bytes"},
		{name: "read_dir", list: []string{"/etc/ssh/"}, exactOnly: true, wantErr: "read watches name single files"},
		{name: "read_files", list: []string{"/etc/shadow", "/etc/gshadow"}, exactOnly: true,
			want: []watchEntry{{key: "/etc/gshadow", exact: true}, {key: "/etc/shadow", exact: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := compileWatch(tt.list, tt.exactOnly)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(watchEntry{})); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestNameKey(t *testing.T) {
	k := nameKey("/etc/ssh/ssh_host_ed25519_key_with_a_very_long_name")
	if got := string(k[:31]); got != "ssh_host_ed25519_key_with_a_ver" || k[31] != 0 {
		t.Errorf("key %q", k)
	}
}
