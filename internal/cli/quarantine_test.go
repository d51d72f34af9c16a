package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/respond/audit"
	"github.com/vigilsec/vigil/internal/respond/quarantine"
)

func runQuarantine(t *testing.T, g *globals, args ...string) (string, error) {
	t.Helper()
	cmd := newQuarantineCommand(g)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestQuarantineCommand(t *testing.T) {
	data := t.TempDir()
	g := &globals{dataDir: data, format: formatTable}
	s, err := quarantine.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "evil.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	m, err := s.Quarantine(path, "alert-1", "vigil.exec.evil")
	if err != nil {
		t.Fatal(err)
	}

	out, err := runQuarantine(t, g, "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{m.ID, "vigil.exec.evil", "evil.sh"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	g.format = formatJSON
	out, err = runQuarantine(t, g, "list")
	if err != nil {
		t.Fatal(err)
	}
	var got []quarantine.Meta
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0].ID != m.ID || got[0].OriginalPath != path {
		t.Errorf("list --format json = %s (%v)", out, err)
	}

	// Restore refuses to overwrite without --force.
	os.WriteFile(path, []byte("other"), 0o644)
	_, err = runQuarantine(t, g, "restore", m.ID)
	var ue *UserError
	if !errors.As(err, &ue) {
		t.Errorf("restore over existing file: err = %v, want a UserError", err)
	}
	if _, err := runQuarantine(t, g, "restore", "--force", m.ID); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "#!/bin/sh\n" {
		t.Errorf("restored content %q", b)
	}
	if _, err := runQuarantine(t, g, "delete", m.ID); err == nil {
		t.Error("delete of a restored entry: no error")
	}

	recs, err := audit.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	var results []string
	for _, r := range recs {
		results = append(results, r.Action+":"+r.Result)
		if r.RuleID != "" && r.RuleID != "vigil.exec.evil" {
			t.Errorf("audit rule ID %q", r.RuleID)
		}
	}
	if want := "restore:failed restore:ok delete:failed"; strings.Join(results, " ") != want {
		t.Errorf("audit results %q, want %q", results, want)
	}
}

func TestQuarantineDelete(t *testing.T) {
	data := t.TempDir()
	g := &globals{dataDir: data, format: formatTable}
	s, _ := quarantine.Open(data)
	path := filepath.Join(t.TempDir(), "x")
	os.WriteFile(path, []byte("x"), 0o644)
	m, err := s.Quarantine(path, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := runQuarantine(t, g, "delete", m.ID); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %q, %v", out, err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("List after delete = %+v", list)
	}
	if _, err := os.Lstat(path); err == nil {
		t.Error("delete restored the file")
	}
	if out, err := runQuarantine(t, g, "list"); err != nil || !strings.Contains(out, "(none)") {
		t.Errorf("empty list: %q, %v", out, err)
	}
}
