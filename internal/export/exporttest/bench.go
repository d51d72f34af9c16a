package exporttest

import (
	"context"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/export"
)

// Bench pushes b.N records through an exporter and reports records/s
// and payload MB/s. Records are made before the timer starts.
func Bench(b *testing.B, q *export.Queue) {
	b.Helper()
	const chunk = 1000
	base, err := Records(chunk)
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	for _, r := range base {
		bytes += int64(len(r.Data))
	}
	b.SetBytes(bytes / chunk)
	b.ResetTimer()
	ctx := context.Background()
	for sent := 0; sent < b.N; {
		n := min(chunk, b.N-sent)
		recs := make([]export.Record, n)
		copy(recs, base[:n])
		for i := range recs {
			recs[i].Seq = uint64(sent + i + 1)
		}
		for len(recs) > 0 {
			before := q.Stats().Dropped
			if q.Export(ctx, recs) == nil {
				break
			}
			// The queue was full: export the refused tail again once it
			// has drained a little, as the server would.
			dropped := int(q.Stats().Dropped - before)
			recs = recs[len(recs)-dropped:]
			time.Sleep(time.Millisecond)
		}
		sent += n
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := q.Flush(fctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := q.Stats()
	if st.Delivered != uint64(b.N) || st.Rejected != 0 {
		b.Fatalf("stats %+v after %d records", st, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
