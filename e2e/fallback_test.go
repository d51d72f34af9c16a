package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Where the kernel refuses eBPF the agent runs on the proc connector,
// fanotify and sock_diag; forced here, it still detects, and says so.
func TestFallbackSensorsDetect(t *testing.T) {
	agent(t) // the binaries and the root/BPF checks
	dir := t.TempDir()
	cfg := filepath.Join(dir, "fallback.yaml")
	os.WriteFile(cfg, []byte("collectors: {interval: 0s}\nstatus_interval: 500ms\nsensors: {mode: fallback}\n"), 0o600)
	fb, err := startAgent("--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.stop()

	out := run(t, vigil, "--data-dir", fb.dataDir, "--format", "json", "agent", "status")
	var st struct {
		Running bool   `json:"running"`
		Ready   bool   `json:"ready"`
		Mode    string `json:"mode"`
		Sensors []struct {
			Name, Mode string
		} `json:"sensors"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("agent status: %v\n%s", err, out)
	}
	fallbacks := 0
	for _, s := range st.Sensors {
		if s.Mode == "fallback" {
			fallbacks++
		}
	}
	if !st.Running || !st.Ready || st.Mode != "fallback" || fallbacks != 3 {
		t.Fatalf("agent status = %+v, want running, ready, fallback with 3 fallback sensors", st)
	}

	m := marker(t)
	path := "/etc/cron.d/" + m
	writeThenRemove(t, path, "* * * * * root /bin/true")
	fb.waitAlert(t, rulePersistCron, "T1053.003", pathIs(path))

	reader := filepath.Join(t.TempDir(), "report-gen")
	copyBin(t, "/bin/cat", reader)
	if err := exec.Command(reader, "/etc/shadow").Run(); err != nil {
		t.Fatal(err)
	}
	fb.waitAlert(t, ruleShadowRead, "T1003.008", func(al Alert) bool { return al.Process.Exe == reader })
}
