package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

// BenchEventData is a realistic exec event body (about 400 bytes).
var BenchEventData = json.RawMessage(`{"kind":"exec","proc":{"pid":4242,"exec_id":"b1f0:1234:4242","exe":"/usr/bin/curl","cmdline":"curl -s https://example.com/install.sh","user":"www-data","uid":33,"ancestors":[{"pid":1,"exe":"/sbin/init"},{"pid":812,"exe":"/usr/sbin/nginx"}]},"container":null}`)

// BenchIngestEvents measures IngestEvents in batches of 500; b.N counts events.
func BenchIngestEvents(b *testing.B, s store.Store) {
	must(b, s.UpsertHost(ctx, host("h1")))
	const batch = 500
	es := make([]store.Event, batch)
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		n := min(batch, b.N-done)
		for i := range n {
			es[i] = store.Event{ID: fmt.Sprint("e", done+i), Time: at(time.Duration(done + i)), Kind: "exec", Data: BenchEventData}
		}
		if _, err := s.IngestEvents(ctx, "h1", es[:n]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchIngestAlerts measures IngestAlerts in batches of 1000; b.N counts alerts.
func BenchIngestAlerts(b *testing.B, s store.Store) {
	must(b, s.UpsertHost(ctx, host("h1")))
	const batch = 1000
	as := make([]alert.Alert, batch)
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		n := min(batch, b.N-done)
		for i := range n {
			as[i] = mkAlert(fmt.Sprintf("%032x", done+i), time.Duration(done+i)*time.Millisecond, severity.Level(1+i%5), "r", "Reverse shell", "TA0002", "TA0011")
		}
		if _, err := s.IngestAlerts(ctx, "h1", as[:n]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}
