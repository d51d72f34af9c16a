package startup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
	"github.com/vigilsec/vigil/internal/textio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collect runs the collector on a root, with the tree's proc/ as procfs
// when it has one, and splits its error into per-record problems. The
// root's path is cut from procfs paths so that expectations are fixed.
func collect(t *testing.T, root, procPath string) ([]inventory.StartupItem, []string, error) {
	t.Helper()
	in := &collector.Input{Root: os.DirFS(root), RootPath: root, ProcPath: procPath}
	inv, err := New().Collect(context.Background(), in)
	var pe *plugin.PartialError
	if err != nil && !errors.As(err, &pe) {
		return nil, nil, err
	}
	var problems []string
	if pe != nil {
		problems = pe.Problems
	}
	if root != "/" {
		for i := range problems {
			problems[i] = strings.ReplaceAll(problems[i], root, "")
		}
		for i := range inv.StartupItems {
			inv.StartupItems[i].Source = strings.TrimPrefix(inv.StartupItems[i].Source, root)
		}
	}
	return inv.StartupItems, problems, nil
}

func TestCollect(t *testing.T) {
	tests := []struct {
		name         string
		want         []inventory.StartupItem
		wantProblems []string
	}{
		{
			name: "debian",
			want: []inventory.StartupItem{
				{Type: "systemd", Name: "cron.service", Source: "/usr/lib/systemd/system/cron.service", Command: "/usr/sbin/cron -f -P $EXTRA_OPTS", User: "root", Enabled: true, Details: map[string]string{"enabled_by": "multi-user.target", "wanted_by": "multi-user.target"}},
				{Type: "systemd", Name: "getty@tty1.service", Source: "/usr/lib/systemd/system/getty@.service", Command: "-/sbin/agetty -o '-p -- \\\\u' --noclear - $TERM", User: "root", Enabled: true, Details: map[string]string{"enabled_by": "getty.target", "service_type": "idle", "wanted_by": "getty.target"}},
				{Type: "systemd", Name: "kworker-update.service", Source: "/etc/systemd/system/kworker-update.service", Command: "/var/tmp/.cache/kworker --pool x.example.net:3333", User: "nobody", Enabled: true, Details: map[string]string{"enabled_by": "default.target,multi-user.target", "wanted_by": "multi-user.target,default.target"}},
				{Type: "systemd", Name: "nginx.service", Source: "/usr/lib/systemd/system/nginx.service", Command: "/usr/sbin/nginx -c /etc/nginx/custom.conf -g 'daemon on; master_process on;'", User: "root", Enabled: true, Details: map[string]string{"drop_ins": "/etc/systemd/system/nginx.service.d/override.conf", "enabled_by": "multi-user.target", "service_type": "forking", "wanted_by": "multi-user.target"}},
				{Type: "systemd", Name: "removed.service", Source: "/etc/systemd/system/multi-user.target.wants/removed.service", User: "root", Details: map[string]string{"enabled_by": "multi-user.target"}},
				{Type: "systemd", Name: "rsync.service", Source: "/usr/lib/systemd/system/rsync.service", Command: "/usr/bin/rsync --daemon --no-detach", User: "root", Details: map[string]string{"enabled_by": "multi-user.target", "masked": "true", "wanted_by": "multi-user.target"}},
				{Type: "systemd", Name: "ssh.service", Source: "/usr/lib/systemd/system/ssh.service", Command: "/usr/sbin/sshd -D $SSHD_OPTS", User: "root", Enabled: true, Details: map[string]string{"enabled_by": "multi-user.target", "service_type": "notify", "wanted_by": "multi-user.target"}},
				{Type: "systemd", Name: "systemd-journald.service", Source: "/usr/lib/systemd/system/systemd-journald.service", Command: "/lib/systemd/systemd-journald", User: "root", Enabled: true, Details: map[string]string{"enabled_by": "sysinit.target", "service_type": "notify"}},
				{Type: "sysv", Name: "cron", Source: "/etc/init.d/cron", Command: "/etc/init.d/cron start", User: "root", Enabled: true, Details: map[string]string{"native_unit": "cron.service", "runlevels": "2345"}},
				{Type: "sysv", Name: "hwclock.sh", Source: "/etc/init.d/hwclock.sh", Command: "/etc/init.d/hwclock.sh start", User: "root", Enabled: true, Details: map[string]string{"runlevels": "S"}},
				{Type: "sysv", Name: "legacy-agent", Source: "/etc/init.d/legacy-agent", Command: "/etc/init.d/legacy-agent start", User: "root", Enabled: true, Details: map[string]string{"runlevels": "235"}},
				{Type: "sysv", Name: "sendsigs", Source: "/etc/init.d/sendsigs", Command: "/etc/init.d/sendsigs start", User: "root", Details: map[string]string{"runlevels": "06"}},
				{Type: "rc_local", Name: "rc.local", Source: "/etc/rc.local", Command: "/usr/local/bin/iptables-restore.sh\nnohup /opt/agent/agent >/dev/null 2>&1 &", User: "root", Enabled: true},
				{Type: "profile_d", Name: "profile", Source: "/etc/profile", Enabled: true},
				{Type: "profile_d", Name: "README.txt", Source: "/etc/profile.d/README.txt"},
				{Type: "profile_d", Name: "Z97-byobu.sh", Source: "/etc/profile.d/Z97-byobu.sh", Enabled: true},
				{Type: "profile_d", Name: "bash_completion.sh", Source: "/etc/profile.d/bash_completion.sh", Enabled: true},
				{Type: "ld_so_preload", Name: "/usr/local/lib/libprocesshider.so", Source: "/etc/ld.so.preload", Enabled: true},
				{Type: "ld_so_preload", Name: "/lib/x86_64-linux-gnu/libgone.so", Source: "/etc/ld.so.preload", Enabled: true, Details: map[string]string{"missing": "true"}},
				{Type: "modules_load", Name: "br_netfilter", Source: "/etc/modules-load.d/br_netfilter.conf", Enabled: true},
				{Type: "modules_load", Name: "overlay", Source: "/etc/modules-load.d/br_netfilter.conf", Enabled: true},
				{Type: "modules_load", Name: "fuse", Source: "/usr/lib/modules-load.d/fuse.conf", Enabled: true},
				{Type: "modules_load", Name: "loop", Source: "/etc/modules", Enabled: true},
				{Type: "modules_load", Name: "bonding", Source: "/etc/modules", Enabled: true, Details: map[string]string{"args": "mode=active-backup miimon=100"}},
				{Type: "kernel_module", Name: "nf_tables", Source: "/proc/modules", Enabled: true, Details: map[string]string{"refcount": "1", "size": "274432", "state": "Live", "used_by": "nft_chain_nat"}},
				{Type: "kernel_module", Name: "nft_chain_nat", Source: "/proc/modules", Enabled: true, Details: map[string]string{"refcount": "0", "size": "16384", "state": "Live"}},
				{Type: "kernel_module", Name: "overlay", Source: "/proc/modules", Enabled: true, Details: map[string]string{"refcount": "0", "size": "151552", "state": "Live"}},
				{Type: "kernel_module", Name: "vboxdrv", Source: "/proc/modules", Enabled: true, Details: map[string]string{"refcount": "2", "size": "696320", "state": "Live", "taint": "(OE)", "used_by": "vboxnetadp,vboxnetflt"}},
				{Type: "kernel_module", Name: "diamorphine", Source: "/proc/modules", Enabled: true, Details: map[string]string{"refcount": "0", "size": "16384", "state": "Live", "taint": "(OE)"}},
			},
			wantProblems: []string{
				"unit \"removed.service\": file does not exist",
				"/proc/modules:6: bad size \"line\"",
			},
		},
		{
			name: "rhel",
			want: []inventory.StartupItem{
				{Type: "systemd", Name: "crond.service", Source: "/usr/lib/systemd/system/crond.service", Command: "/usr/sbin/crond -n $CRONDARGS", User: "root", Enabled: true, Details: map[string]string{"enabled_by": "multi-user.target", "wanted_by": "multi-user.target"}},
				{Type: "systemd", Name: "sshd.service", Source: "/usr/lib/systemd/system/sshd.service", Command: "/usr/sbin/sshd -D $OPTIONS", User: "root", Enabled: true, Details: map[string]string{"enabled_by": "multi-user.target", "service_type": "notify", "wanted_by": "multi-user.target"}},
				{Type: "sysv", Name: "vmware-tools", Source: "/etc/rc.d/init.d/vmware-tools", Command: "/etc/rc.d/init.d/vmware-tools start", User: "root", Enabled: true, Details: map[string]string{"runlevels": "35"}},
				{Type: "rc_local", Name: "rc.local", Source: "/etc/rc.d/rc.local", Command: "touch /var/lock/subsys/local", User: "root"},
				{Type: "profile_d", Name: "profile", Source: "/etc/profile", Enabled: true},
				{Type: "profile_d", Name: "colorls.csh", Source: "/etc/profile.d/colorls.csh"},
				{Type: "profile_d", Name: "colorls.sh", Source: "/etc/profile.d/colorls.sh", Enabled: true},
				{Type: "profile_d", Name: "lang.sh", Source: "/etc/profile.d/lang.sh", Enabled: true},
			},
		},
		{
			name: "alpine",
			want: []inventory.StartupItem{
				{Type: "openrc", Name: "crond", Source: "/etc/init.d/crond", Command: "/etc/init.d/crond", User: "root", Enabled: true, Details: map[string]string{"runlevels": "default"}},
				{Type: "openrc", Name: "devfs", Source: "/etc/init.d/devfs", Command: "/etc/init.d/devfs", User: "root", Enabled: true, Details: map[string]string{"runlevels": "sysinit"}},
				{Type: "openrc", Name: "killprocs", Source: "/etc/init.d/killprocs", Command: "/etc/init.d/killprocs", User: "root", Details: map[string]string{"runlevels": "shutdown"}},
				{Type: "openrc", Name: "local", Source: "/etc/init.d/local", Command: "/etc/init.d/local", User: "root", Enabled: true, Details: map[string]string{"runlevels": "default"}},
				{Type: "openrc", Name: "networking", Source: "/etc/init.d/networking", Command: "/etc/init.d/networking", User: "root", Enabled: true, Details: map[string]string{"runlevels": "boot"}},
				{Type: "openrc", Name: "nginx", Source: "/etc/init.d/nginx", Command: "/etc/init.d/nginx", User: "root"},
				{Type: "openrc", Name: "sshd", Source: "/etc/init.d/sshd", Command: "/etc/init.d/sshd", User: "root", Enabled: true, Details: map[string]string{"runlevels": "default"}},
				{Type: "local_d", Name: "disabled.start", Source: "/etc/local.d/disabled.start", Command: "echo not executable", User: "root"},
				{Type: "local_d", Name: "firewall.start", Source: "/etc/local.d/firewall.start", Command: "iptables-restore < /etc/iptables/rules-save", User: "root", Enabled: true},
				{Type: "profile_d", Name: "profile", Source: "/etc/profile", Enabled: true},
				{Type: "profile_d", Name: "color_prompt.sh.disabled", Source: "/etc/profile.d/color_prompt.sh.disabled"},
				{Type: "profile_d", Name: "locale.sh", Source: "/etc/profile.d/locale.sh", Enabled: true},
				{Type: "modules_load", Name: "af_packet", Source: "/etc/modules", Enabled: true},
				{Type: "modules_load", Name: "ipv6", Source: "/etc/modules", Enabled: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := testutil.TxtarToDir(t, "testdata/"+tt.name+".txtar")
			proc := ""
			if _, err := os.Stat(filepath.Join(root, "proc")); err == nil {
				proc = filepath.Join(root, "proc")
			}
			got, problems, err := collect(t, root, proc)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantProblems, problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectSkipsEmptyRoot(t *testing.T) {
	_, err := New().Collect(context.Background(), &collector.Input{Root: os.DirFS(t.TempDir())})
	if !errors.Is(err, plugin.ErrSkipped) {
		t.Fatalf("Collect on an empty root: got %v, want a skip", err)
	}
}

// TestCollectNoProcModules: a kernel without module support has no
// /proc/modules; that is not a problem.
func TestCollectNoProcModules(t *testing.T) {
	root := testutil.TxtarToDir(t, "testdata/alpine.txtar")
	got, problems, err := collect(t, root, t.TempDir())
	if err != nil || len(problems) != 0 {
		t.Fatalf("Collect: %v %v", err, problems)
	}
	for _, item := range got {
		if item.Type == "kernel_module" {
			t.Errorf("kernel module reported without /proc/modules: %+v", item)
		}
	}
}

func TestCollectCanceled(t *testing.T) {
	root := testutil.TxtarToDir(t, "testdata/debian.txtar")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New().Collect(ctx, &collector.Input{Root: os.DirFS(root)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Collect with a canceled context: got %v, want context.Canceled", err)
	}
}

func TestParseProcModules(t *testing.T) {
	in := "nf_tables 274432 1 nft_chain_nat, Live 0xffffffffc0a2f000\n" +
		"\n" +
		"ip_tables 32768 - - Loading 0x0000000000000000\n" +
		"vboxdrv 696320 2 vboxnetadp,vboxnetflt, Unloading 0x0000000000000000 (OE)\n" +
		"short 1 2 -\n" +
		"bad_size x 0 - Live 0x0\n" +
		"bad_ref 1 y - Live 0x0\n" +
		"bad_state 1 0 - Dead 0x0\n" +
		"bad_addr 1 0 - Live ffff\n" +
		"bad_taint 1 0 - Live 0x0 OE\n"
	mods, bad, err := parseProcModules(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []kmod{
		{Line: 1, Name: "nf_tables", Size: 274432, RefCount: "1", UsedBy: []string{"nft_chain_nat"}, State: "Live", Address: "0xffffffffc0a2f000"},
		{Line: 3, Name: "ip_tables", Size: 32768, RefCount: "-", State: "Loading", Address: "0x0000000000000000"},
		{Line: 4, Name: "vboxdrv", Size: 696320, RefCount: "2", UsedBy: []string{"vboxnetadp", "vboxnetflt"}, State: "Unloading", Address: "0x0000000000000000", Taint: "(OE)"},
	}
	wantBad := []lineError{
		{5, "4 fields, want 6 or 7"},
		{6, `bad size "x"`},
		{7, `bad reference count "y"`},
		{8, `bad state "Dead"`},
		{9, `bad address "ffff"`},
		{10, `bad taint flags "OE"`},
	}
	if diff := cmp.Diff(want, mods); diff != "" {
		t.Errorf("modules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantBad, bad); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestParseLists(t *testing.T) {
	libs, err := parsePreload(strings.NewReader("# comment\n/lib/a.so /lib/b.so:/lib/c.so\n\n\t/lib/d.so\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/lib/a.so", "/lib/b.so", "/lib/c.so", "/lib/d.so"}, libs); diff != "" {
		t.Errorf("parsePreload (-want +got):\n%s", diff)
	}
	mods, err := parseModulesList(strings.NewReader("# c\n; c\nloop\n  bonding\tmode=1 miimon=100 \n\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantMods := []moduleLine{{Line: 3, Name: "loop"}, {Line: 4, Name: "bonding", Args: "mode=1 miimon=100"}}
	if diff := cmp.Diff(wantMods, mods); diff != "" {
		t.Errorf("parseModulesList (-want +got):\n%s", diff)
	}
	content, err := scriptContent(strings.NewReader("#!/bin/sh -e\n# c\n\n  /usr/bin/a  \nexit 0\nb &\n"))
	if err != nil {
		t.Fatal(err)
	}
	if content != "/usr/bin/a\nb &" {
		t.Errorf("scriptContent = %q", content)
	}
	long, err := scriptContent(strings.NewReader(strings.Repeat("echo aaaaaaaaaa\n", 1000)))
	if err != nil || len(long) != maxCommand {
		t.Errorf("scriptContent of a long script: %d bytes, %v; want %d", len(long), err, maxCommand)
	}
}

// FuzzParseProcModules checks that every non-blank line of /proc/modules
// is exactly one module or one error, and that modules hold valid fields.
func FuzzParseProcModules(f *testing.F) {
	f.Add("nf_tables 274432 1 nft_chain_nat, Live 0xffffffffc0a2f000\nvboxdrv 696320 2 a,b, Live 0x0 (OE)\n")
	f.Add("ip_tables 32768 - - Loading 0x0000000000000000\n\nshort 1 2 -\r\n")
	f.Fuzz(func(t *testing.T, data string) {
		mods, bad, err := parseProcModules(strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		nonBlank := make(map[int]bool)
		lr := textio.NewReader(strings.NewReader(data), maxLine)
		for lr.Next() {
			if strings.TrimSpace(lr.Text()) != "" {
				nonBlank[lr.Num()] = true
			}
		}
		seen := make(map[int]bool)
		for _, m := range mods {
			if m.Name == "" || strings.ContainsAny(m.Name, " \t") || !strings.HasPrefix(m.Address, "0x") {
				t.Fatalf("bad module %+v", m)
			}
			if m.State != "Live" && m.State != "Loading" && m.State != "Unloading" {
				t.Fatalf("bad state %q", m.State)
			}
			seen[m.Line] = true
		}
		for _, b := range bad {
			if seen[b.Line] {
				t.Fatalf("line %d is both a module and an error", b.Line)
			}
			seen[b.Line] = true
		}
		if diff := cmp.Diff(nonBlank, seen); diff != "" {
			t.Fatalf("lines accounted for (-non-blank +seen):\n%s", diff)
		}
	})
}

// FuzzParseModulesList checks that each module line yields one module
// name without blanks, and that comments and blank lines yield none.
func FuzzParseModulesList(f *testing.F) {
	f.Add("# /etc/modules\nloop\nbonding mode=active-backup\n; x\n")
	f.Add("\tfoo\tbar=1\n  \n")
	f.Fuzz(func(t *testing.T, data string) {
		mods, err := parseModulesList(strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		content := 0
		lr := textio.NewReader(strings.NewReader(data), maxLine)
		for lr.Next() {
			if l := strings.TrimSpace(lr.Text()); l != "" && l[0] != '#' && l[0] != ';' {
				content++
			}
		}
		if len(mods) != content {
			t.Fatalf("%d modules from %d content lines", len(mods), content)
		}
		for _, m := range mods {
			if m.Name == "" || strings.ContainsAny(m.Name, " \t") {
				t.Fatalf("bad module name %q", m.Name)
			}
		}
	})
}
