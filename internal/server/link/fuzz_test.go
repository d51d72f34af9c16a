package link

import (
	"context"
	"testing"
	"time"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/pki"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlite"
)

// FuzzIngest feeds arbitrary records from an agent to the ingest path:
// every record is stored or rejected with a reason, and nothing makes the
// batch fail (which would make the agent resend it forever).
func FuzzIngest(f *testing.F) {
	f.Add(int32(1), "a1", int64(1700000000000000000), "", []byte(`{"id":"a1","time":"2024-01-01T00:00:00Z","rule":{"id":"r","title":"t"},"severity":"high"}`))
	f.Add(int32(1), "a2", int64(0), "", []byte(`{"id":"a2","severity":"nonsense"}`))
	f.Add(int32(2), "e1", int64(-5), "exec", []byte(`{"pid":1}`))
	f.Add(int32(2), "e\x00", int64(1), "k\xff", []byte(`"\u0000"`))
	f.Add(int32(3), "", int64(0), "", []byte(`{"packages":[]}`))
	f.Add(int32(3), "", int64(9e18), "", []byte(`nul`))
	f.Add(int32(7), "x", int64(0), "", []byte(nil))
	ctx := context.Background()
	st, err := sqlite.OpenDir(ctx, f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	ca, err := pki.NewCA("fuzz", time.Now(), time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	s, err := NewServer(Options{Store: st, CA: ca})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	if err := st.UpsertHost(ctx, store.Host{ID: "h1", Hostname: "h", EnrolledAt: now, LastSeen: now}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kind int32, id string, ts int64, eventKind string, data []byte) {
		recs := []*vigilv1.Record{{Kind: vigilv1.RecordKind(kind), Id: id, TimeUnixNano: ts, EventKind: eventKind, Data: data}}
		rejected, err := s.ingest(ctx, "h1", recs)
		if err != nil {
			t.Fatalf("ingest failed (the agent would resend forever): %v", err)
		}
		for _, r := range rejected {
			if r.GetIndex() != 0 || r.GetReason() == "" {
				t.Fatalf("bad rejection %v", r)
			}
		}
	})
}
