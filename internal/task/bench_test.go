package task

import (
	"context"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
)

// BenchmarkSignRun measures the server's cost of one dispatch.
func BenchmarkSignRun(b *testing.B) {
	s, err := NewSigner(newKey(b))
	if err != nil {
		b.Fatal(err)
	}
	tk := signedTask(b, s, "malware_scan", `{"paths": ["/var/www", "/srv"], "quarantine": true}`)
	r := store.TaskRun{ID: 1, TaskID: tk.ID, HostID: "host-a"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.SignRun(ctx, tk, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify measures the agent's checks of one run (without the
// replay file write).
func BenchmarkVerify(b *testing.B) {
	s, err := NewSigner(newKey(b))
	if err != nil {
		b.Fatal(err)
	}
	tk := signedTask(b, s, "malware_scan", `{"paths": ["/var/www", "/srv"], "quarantine": true}`)
	payload, sig, err := s.SignRun(context.Background(), tk, store.TaskRun{ID: 1, TaskID: tk.ID, HostID: "host-a"})
	if err != nil {
		b.Fatal(err)
	}
	v := &Verifier{Key: s.PublicKey(), HostID: "host-a", Now: time.Now}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := v.Verify(payload, sig); err != nil {
			b.Fatal(err)
		}
	}
}
