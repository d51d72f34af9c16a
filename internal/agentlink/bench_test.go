package agentlink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/agentlink"
	"github.com/vigilsec/vigil/internal/server/link/linktest"
)

// BenchmarkSpoolToStore measures events/s from the agent's spool through
// the link into SQLite: b.N events are spooled, then delivered.
func BenchmarkSpoolToStore(b *testing.B) {
	e := linktest.Start(b, "", "", nil)
	c, err := agentlink.New(agentlink.Options{DataDir: b.TempDir(), Server: e.Addr, EnrolToken: e.Token(b), SpoolBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Enrol(context.Background()); err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(`{"process":{"pid":4242,"exe":"/usr/bin/curl","args":["curl","-s","http://example.com/x.sh"],"uid":1000},"parent":{"pid":4200,"exe":"/bin/bash"}}`)
	now := time.Now()
	for i := range b.N {
		if err := c.SendEvent(fmt.Sprintf("ev-%012d", i), now.Add(time.Duration(i)), "exec", data); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for c.Stats().SpoolPending > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	if n, _ := e.Store.CountEvents(context.Background(), c.HostID()); n != b.N {
		b.Fatalf("%d events stored, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
}
