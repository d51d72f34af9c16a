package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The packaged configuration documents the defaults; it must stay equal
// to them.
func TestPackagedConfigIsDefault(t *testing.T) {
	got, err := LoadConfig("../../packaging/agent.yaml", true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Default(), got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("packaging/agent.yaml differs from Default() (-default +file):\n%s", diff)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if c, err := LoadConfig(filepath.Join(dir, "absent.yaml"), false); err != nil || c.Sensors.Mode != "auto" {
		t.Errorf("missing default file: %v, mode %q", err, c.Sensors.Mode)
	}
	if _, err := LoadConfig(filepath.Join(dir, "absent.yaml"), true); err == nil {
		t.Error("missing explicit file accepted")
	}
	if c, err := LoadConfig(write("empty.yaml", ""), true); err != nil || c.Limits.Queue != 65536 {
		t.Errorf("empty file: %v %+v", err, c.Limits)
	}
	c, err := LoadConfig(write("ok.yaml", "internal_cidrs: [127.0.0.0/8]\nsensors: {mode: fallback}\nrules: {act: {VGL-X: true}}\n"), true)
	if err != nil || c.Sensors.Mode != "fallback" || !c.Rules.Act["VGL-X"] || len(c.InternalCIDRs) != 1 {
		t.Errorf("ok.yaml: %v %+v", err, c)
	}
	for name, body := range map[string]string{
		"unknown key":   "sensor: {}\n",
		"bad mode":      "sensors: {mode: kernel}\n",
		"bad cidr":      "internal_cidrs: [10.0.0.0/33]\n",
		"bad duration":  "collectors: {interval: soon}\n",
		"small queue":   "limits: {queue: 3}\n",
		"odd ring size": "sensors: {ring_buffer: 5000}\n",
	} {
		_, err := LoadConfig(write("bad.yaml", body), true)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
}
