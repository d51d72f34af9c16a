package link_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/server/link/linktest"
)

// BenchmarkIngestEvents measures events/s through the link (TLS gRPC on
// loopback, batches of 1000, 4 batches in flight) into SQLite.
func BenchmarkIngestEvents(b *testing.B) {
	e := linktest.Start(b, "", "", nil)
	now := time.Now()
	id, cert := newHost(b, e, e.CA, now.Add(-time.Hour), now.Add(time.Hour))
	cli := dial(b, e, &cert)
	ctx := context.Background()
	st, err := cli.Upload(ctx)
	if err != nil {
		b.Fatal(err)
	}
	const batch, window = 1000, 4
	data := []byte(`{"process":{"pid":4242,"exe":"/usr/bin/curl","args":["curl","-s","http://example.com/x.sh"],"uid":1000},"parent":{"pid":4200,"exe":"/bin/bash"},"exec_id":"3f2a:1700000000:4242"}`)
	mk := func(seq uint64, from int) *vigilv1.UploadBatch {
		ub := &vigilv1.UploadBatch{Seq: seq}
		for i := range batch {
			ub.Records = append(ub.Records, &vigilv1.Record{Kind: vigilv1.RecordKind_RECORD_KIND_EVENT,
				Id: fmt.Sprintf("ev-%012d", from+i), TimeUnixNano: now.Add(time.Duration(from+i) * time.Microsecond).UnixNano(),
				EventKind: "exec", Data: data})
		}
		return ub
	}
	batches := (b.N + batch - 1) / batch
	errc := make(chan error, 1)
	sem := make(chan struct{}, window)
	go func() {
		for range batches {
			ack, err := st.Recv()
			<-sem
			if err != nil {
				errc <- err
				return
			}
			if len(ack.GetRejected()) > 0 {
				errc <- fmt.Errorf("rejected: %v", ack.GetRejected())
				return
			}
		}
		errc <- nil
	}()
	b.ResetTimer()
	start := time.Now()
	for i := range batches {
		sem <- struct{}{}
		if err := st.Send(mk(uint64(i+1), i*batch)); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.StopTimer()
	n, _ := e.Store.CountEvents(ctx, id)
	if n != batches*batch {
		b.Fatalf("%d events stored, want %d", n, batches*batch)
	}
	b.ReportMetric(float64(batches*batch)/el.Seconds(), "events/s")
}
