package startup

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testutil"
)

func writeFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(p) })
}

// TestCollectLive enables a systemd service with systemctl and adds a
// profile.d script and a modules-load.d file on this machine, then
// expects each in the collector's output for "/" with the live procfs
// (which, on a kernel without modules, has no /proc/modules).
func TestCollectLive(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "systemctl")
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(b)
	unit := "vigil-test-" + id + ".service"
	unitPath := "/etc/systemd/system/" + unit
	writeFile(t, unitPath, "[Unit]\nDescription=vigil test\n\n[Service]\nUser=nobody\nExecStart=/bin/sleep "+id+
		"\n\n[Install]\nWantedBy=multi-user.target\n", 0o644)
	wants := "/etc/systemd/system/multi-user.target.wants/" + unit
	t.Cleanup(func() {
		exec.Command("systemctl", "disable", unit).Run()
		os.Remove(wants)
	})
	if out, err := exec.Command("systemctl", "enable", unit).CombinedOutput(); err != nil {
		t.Fatalf("systemctl enable: %v\n%s", err, out)
	}
	profile := "/etc/profile.d/vigil-test-" + id + ".sh"
	writeFile(t, profile, "# vigil live test: does nothing\n", 0o644)
	if err := os.MkdirAll("/etc/modules-load.d", 0o755); err != nil {
		t.Fatal(err)
	}
	modules := "/etc/modules-load.d/vigil-test-" + id + ".conf"
	writeFile(t, modules, "# vigil live test\nvigil_test_"+id+"\n", 0o644)

	got, problems, err := collect(t, "/", "/proc")
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	for _, p := range problems {
		if strings.Contains(p, id) {
			t.Errorf("problem with a test file: %s", p)
		}
	}
	var mine []inventory.StartupItem
	for _, item := range got {
		if strings.Contains(item.Name, id) {
			mine = append(mine, item)
		}
	}
	want := []inventory.StartupItem{
		{
			Type: "systemd", Name: unit, Source: unitPath, Command: "/bin/sleep " + id, User: "nobody", Enabled: true,
			Details: map[string]string{"enabled_by": "multi-user.target", "wanted_by": "multi-user.target"},
		},
		{Type: "profile_d", Name: "vigil-test-" + id + ".sh", Source: profile, Enabled: true},
		{Type: "modules_load", Name: "vigil_test_" + id, Source: modules, Enabled: true},
	}
	if diff := cmp.Diff(want, mine); diff != "" {
		t.Errorf("live items (-want +got):\n%s", diff)
	}
}
