package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/backup"
	"github.com/vigilsec/vigil/internal/respond/audit"
)

func runBackup(t *testing.T, g *globals, args ...string) (string, error) {
	t.Helper()
	cmd := newBackupCommand(g)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestBackupCommand(t *testing.T) {
	data := t.TempDir()
	g := &globals{dataDir: data, format: formatTable}
	if _, err := runBackup(t, g, "list"); err == nil || !strings.Contains(err.Error(), "no backups") {
		t.Errorf("list without a store: %v", err)
	}
	s, err := backup.Open(backup.Config{Dir: backup.DirIn(data)})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	doc := filepath.Join(src, "docs", "plan.txt")
	os.MkdirAll(filepath.Dir(doc), 0o755)
	os.WriteFile(doc, []byte("the good plan\n"), 0o640)
	m, _, err := s.Snapshot(context.Background(), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	between := time.Now()
	os.WriteFile(doc, []byte("ENCRYPTED\x00\x01\x02"), 0o640)
	if _, err := s.BackupFile(doc); err != nil {
		t.Fatal(err)
	}

	out, err := runBackup(t, g, "list")
	if flat := squash(out); err != nil || !strings.Contains(flat, m.ID) || !strings.Contains(flat, "snapshot") || !strings.Contains(flat, src) {
		t.Errorf("list = %v\n%s", err, out)
	}
	g.format = formatJSON
	out, err = runBackup(t, g, "list", "--path", doc)
	var vs []backup.Version
	if err != nil || json.Unmarshal([]byte(out), &vs) != nil || len(vs) != 2 {
		t.Fatalf("list --path --format json = %v\n%s", err, out)
	}
	// Restore the version before the damage, elsewhere, then in place.
	dest := t.TempDir()
	g.format = formatTable
	out, err = runBackup(t, g, "restore", doc, "--before", between.UTC().Format(time.RFC3339Nano), "--to", dest)
	if err != nil || !strings.Contains(squash(out), filepath.Join(dest, doc)) {
		t.Fatalf("restore --to = %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, doc)); string(b) != "the good plan\n" {
		t.Errorf("restored to dest: %q", b)
	}
	if _, err := runBackup(t, g, "restore", m.ID); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(doc); string(b) != "the good plan\n" {
		t.Errorf("restored snapshot in place: %q", b)
	}
	recs, err := audit.ReadFile(data)
	if err != nil || len(recs) != 2 || recs[0].Action != "restore" || recs[1].Result != audit.ResultOK {
		t.Errorf("audit = %+v, %v", recs, err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"relative_path", []string{"restore", "docs/plan.txt"}, "absolute path"},
		{"bad_before", []string{"restore", doc, "--before", "yesterday"}, "--before"},
		{"nothing_before", []string{"restore", doc, "--before", "2001-01-01 00:00:00"}, "no backup found"},
		{"unknown_snapshot", []string{"restore", "20010101T000000.000000000Z-00000000"}, "no backup found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := runBackup(t, g, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseBefore(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                          {},
		"2h":                        now.Add(-2 * time.Hour),
		"2026-11-01 10:00:00":       time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
		"2026-11-01T10:00:00+01:00": time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC),
	} {
		got, err := parseBefore(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseBefore(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// squash removes white space, joining the lines of wrapped table cells.
func squash(s string) string { return strings.Join(strings.Fields(s), "") }
