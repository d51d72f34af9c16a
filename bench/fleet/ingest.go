package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
)

// ingestResult is the maximum event ingest through the link.
type ingestResult struct {
	Store        string  `json:"store"`
	Writers      int     `json:"writers"`
	Batch        int     `json:"batch"`
	Events       uint64  `json:"events"` // acknowledged, and counted by the server
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_s"`
	ServerCPU    float64 `json:"server_cpu_cores"`
	ClientCPU    float64 `json:"client_cpu_cores"`
	ServerRSS    uint64  `json:"server_rss_bytes"`
}

// runIngest has -writers enrolled agents upload batches of events as fast
// as the server acknowledges them (-window batches in flight each) for
// -duration, and counts the events the server acknowledged, which it does
// only after committing them to the store.
func runIngest(ctx context.Context, c config, backend string, pg *pgSource) (ingestResult, error) {
	r := ingestResult{Store: backend, Writers: c.ingestWriters, Batch: c.ingestBatch}
	srv, stop, err := startBackend(ctx, backend, pg, c.ingestWriters)
	if err != nil {
		return r, err
	}
	defer stop()
	agents, _, _, err := enrolAll(ctx, c, srv, c.ingestWriters)
	if err != nil {
		return r, err
	}
	defer closeAll(agents)
	before, err := srv.Stats()
	if err != nil {
		return r, err
	}
	var acked atomic.Uint64
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(agents))
	pBefore, err := sampleProc(srv.cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	cBefore := clientCPU()
	start := time.Now()
	end := start.Add(c.duration)
	for _, a := range agents {
		sent := make(chan int, c.window)
		wg.Go(func() {
			defer close(sent)
			for time.Now().Before(end) {
				now := time.Now()
				recs := make([]*vigilv1.Record, c.ingestBatch)
				for i := range recs {
					recs[i] = a.event(now)
				}
				if err := a.send(recs); err != nil {
					errs <- fmt.Errorf("agent %d: send: %w", a.i, err)
					return
				}
				sent <- len(recs)
			}
		})
		wg.Go(func() {
			failed := false
			for range sent {
				if failed {
					<-a.inflight // unblock the sender until it stops
					continue
				}
				ack, err := a.up.Recv()
				n := <-a.inflight
				switch {
				case err != nil:
					errs <- fmt.Errorf("agent %d: ack: %w", a.i, err)
					failed = true
				case len(ack.GetRejected()) > 0:
					errs <- fmt.Errorf("agent %d: %d records rejected: %s", a.i, len(ack.GetRejected()), ack.GetRejected()[0].GetReason())
					failed = true
				default:
					acked.Add(uint64(n))
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	pAfter, err := sampleProc(srv.cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	cAfter := clientCPU()
	close(errs)
	if err := <-errs; err != nil {
		return r, err
	}
	after, err := srv.Stats()
	if err != nil {
		return r, err
	}
	if got := after.Events - before.Events; got != acked.Load() {
		return r, fmt.Errorf("server counted %d new events, %d were acknowledged", got, acked.Load())
	}
	r.Events, r.Seconds = acked.Load(), el.Seconds()
	r.EventsPerSec = float64(r.Events) / el.Seconds()
	wall := pAfter.At.Sub(pBefore.At).Seconds()
	r.ServerCPU = (pAfter.CPU - pBefore.CPU).Seconds() / wall
	r.ClientCPU = (cAfter - cBefore).Seconds() / wall
	r.ServerRSS = pAfter.RSS
	return r, nil
}

func printIngestTable(c config, rows []ingestResult) {
	fmt.Printf("\nevent ingest through the link: %d agents, batches of %d, %d in flight each, %s\n\n", c.ingestWriters, c.ingestBatch, c.window, c.duration)
	fmt.Println("| store | events | events/s | server CPU | client CPU | server RSS |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %d | %.0f | %.2f cores | %.2f cores | %d MiB |\n", r.Store, r.Events, r.EventsPerSec, r.ServerCPU, r.ClientCPU, r.ServerRSS>>20)
	}
}
