package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

func snap(user string) *inventory.Snapshot {
	return &inventory.Snapshot{
		SchemaVersion: inventory.SchemaVersion,
		CollectedAt:   time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
		Status:        map[string]plugin.Status{"accounts": {State: plugin.StateSucceeded}},
		Inventory: inventory.Inventory{Accounts: &inventory.Accounts{
			Users: []inventory.User{{Name: user, AuthorizedKeys: []inventory.AuthorizedKey{}}}}},
	}
}

func TestSaveLoad(t *testing.T) {
	s := New(t.TempDir())
	if _, err := s.Load("/"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of empty store = %v, want ErrNotFound", err)
	}
	if err := s.Save("/", snap("alice")); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("/mnt/image", snap("bob")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load("/")
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Accounts.Users[0].Name; n != "alice" {
		t.Errorf("host snapshot user = %q, want alice", n)
	}
	got, err = s.Load("/mnt/image/")
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Accounts.Users[0].Name; n != "bob" {
		t.Errorf("image snapshot user = %q, want bob", n)
	}
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".json" {
			t.Errorf("stray file %s left in store", e.Name())
		}
	}
}

func TestCorruptSnapshotIsKeptAside(t *testing.T) {
	s := New(t.TempDir())
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := s.Path("/")
	if err := os.WriteFile(p, []byte(`{"schema_version":1,"accounts":{"users":[{"na`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := s.Load("/")
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != p {
		t.Fatalf("Load = %v, want CorruptError naming %s", err, p)
	}
	if err := s.Save("/", snap("alice")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p + ".corrupt"); err != nil || len(b) == 0 {
		t.Errorf("corrupt snapshot not kept: %v", err)
	}
	if _, err := s.Load("/"); err != nil {
		t.Errorf("Load after Save: %v", err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	s := New(t.TempDir())
	os.MkdirAll(s.Dir, 0o700)
	os.WriteFile(s.Path("/"), []byte(`{"schema_version":99,"status":{}}`), 0o600)
	if _, err := s.Load("/"); err == nil {
		t.Error("Load accepted a snapshot from a newer schema")
	}
}
