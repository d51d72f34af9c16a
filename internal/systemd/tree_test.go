package systemd

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/testutil"
)

func loadTree(t *testing.T) *Tree {
	t.Helper()
	dir := testutil.TxtarToDir(t, "testdata/tree.txtar")
	tree, problems := Load(context.Background(), os.DirFS(dir))
	if len(problems) != 0 {
		t.Fatalf("Load problems: %v", problems)
	}
	return tree
}

func TestTreeNames(t *testing.T) {
	tree := loadTree(t)
	want := []string{
		"apt-daily.service", "bad.service", "docker-prune.service", "emptymask.service", "getty@tty1.service",
		"gone.service", "initrd-parse-etc.service", "linked.service", "ssh.service",
		"systemd-journald.service",
	}
	if diff := cmp.Diff(want, tree.Names(".service")); diff != "" {
		t.Errorf("Names(.service) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"apt-daily.timer"}, tree.Names(".timer")); diff != "" {
		t.Errorf("Names(.timer) (-want +got):\n%s", diff)
	}
}

func TestTreeEnablement(t *testing.T) {
	tree := loadTree(t)
	type state struct {
		Enabled   bool
		Masked    bool
		EnabledBy []string
	}
	tests := []struct {
		unit string
		want state
	}{
		{"ssh.service", state{true, false, []string{"multi-user.target"}}},
		{"getty@tty1.service", state{true, false, []string{"getty.target"}}},
		{"systemd-journald.service", state{true, false, []string{"sysinit.target"}}},
		{"initrd-parse-etc.service", state{false, false, nil}},
		{"apt-daily.timer", state{false, true, []string{"timers.target"}}},
		{"emptymask.service", state{false, true, []string{"multi-user.target"}}},
		{"bad.service", state{false, false, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			got := state{tree.Enabled(tt.unit), tree.Masked(tt.unit), tree.EnabledBy(tt.unit)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestTreeUnit(t *testing.T) {
	tree := loadTree(t)
	type unit struct {
		Path      string
		DropIns   []string
		ExecStart []string
		User      string
		WantedBy  []string
		Problems  []string
	}
	tests := []struct {
		unit string
		want unit
	}{
		{
			unit: "ssh.service",
			want: unit{
				Path:      "/usr/lib/systemd/system/ssh.service",
				DropIns:   []string{"/etc/systemd/system/ssh.service.d/override.conf"},
				ExecStart: []string{"/usr/sbin/sshd -D -o LogLevel=VERBOSE"},
				WantedBy:  []string{"multi-user.target"},
			},
		},
		{
			unit: "getty@tty1.service",
			want: unit{
				Path:      "/usr/lib/systemd/system/getty@.service",
				DropIns:   []string{"/usr/lib/systemd/system/getty@.service.d/20-speed.conf"},
				ExecStart: []string{`-/sbin/agetty -o '-p -- \\u' --noclear - $TERM`},
				WantedBy:  []string{"getty.target"},
			},
		},
		{
			unit: "docker-prune.service",
			want: unit{
				Path:      "/usr/lib/systemd/system/docker-prune.service",
				DropIns:   []string{"/usr/lib/systemd/system/docker-.service.d/x.conf"},
				ExecStart: []string{"/usr/bin/docker system prune -f"},
				User:      "docker",
			},
		},
		{
			unit: "linked.service",
			want: unit{
				Path:      "/opt/app/linked.service",
				ExecStart: []string{"/opt/app/bin/app"},
				User:      "app",
			},
		},
		{
			unit: "apt-daily.timer", // masked: the vendor file is still readable
			want: unit{Path: "/usr/lib/systemd/system/apt-daily.timer"},
		},
		{
			unit: "bad.service",
			want: unit{
				Path:      "/usr/lib/systemd/system/bad.service",
				ExecStart: []string{"/bin/bad"},
				Problems:  []string{"/usr/lib/systemd/system/bad.service:3: missing '='"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			u, problems, err := tree.Unit(tt.unit)
			if err != nil {
				t.Fatalf("Unit: %v", err)
			}
			got := unit{
				Path: u.Path, DropIns: u.DropIns, ExecStart: u.Values("Service", "ExecStart"),
				User: u.Value("Service", "User"), WantedBy: u.Words("Install", "WantedBy"),
			}
			for _, p := range problems {
				got.Problems = append(got.Problems, p.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, _, err := tree.Unit("gone.service"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Unit(gone.service): got %v, want ErrNotExist", err)
	}
}

func TestResolvePath(t *testing.T) {
	dir := testutil.TxtarToDir(t, "testdata/tree.txtar")
	fsys := os.DirFS(dir)
	tests := []struct {
		in, want string
	}{
		{"lib/systemd/system/ssh.service", "usr/lib/systemd/system/ssh.service"},
		{"etc/systemd/system/sshd.service", "usr/lib/systemd/system/ssh.service"},
		{"usr/lib/systemd/system/sysinit.target.wants/systemd-journald.service", "usr/lib/systemd/system/systemd-journald.service"},
		{"etc/systemd/system/apt-daily.timer", "dev/null"},
		{"etc/../../lib", "usr/lib"},
	}
	for _, tt := range tests {
		got, err := ResolvePath(fsys, tt.in)
		if tt.want == "dev/null" { // does not exist in the tree
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("ResolvePath(%q): got %q, %v, want ErrNotExist", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResolvePath(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDropInDirs(t *testing.T) {
	want := []string{"foo-bar-baz@x.service.d", "foo-bar-baz@.service.d", "foo-bar-.service.d", "foo-.service.d", "service.d"}
	if diff := cmp.Diff(want, dropInDirs("foo-bar-baz@x.service")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
