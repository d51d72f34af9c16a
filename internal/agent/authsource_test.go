package agent

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/authlog"
	"github.com/vigilsec/vigil/internal/event"
)

// testSink queues events as the agent's pipeline does; the test plays
// the consumer.
type testSink struct {
	mu     sync.Mutex
	events []*event.Event
	room   int // EmitWait refuses once this many are queued (0: no limit)
}

func (q *testSink) Emit(ev *event.Event) bool { return q.EmitWait(context.Background(), ev) }

func (q *testSink) EmitWait(ctx context.Context, ev *event.Event) bool {
	q.mu.Lock()
	full := q.room > 0 && len(q.events) >= q.room
	if !full {
		q.events = append(q.events, ev)
	}
	q.mu.Unlock()
	if full {
		<-ctx.Done() // no room until the stop
		return false
	}
	return true
}

func (q *testSink) judgeAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, ev := range q.events {
		ev.Done()
	}
	q.events = nil
}

func failures(n int) []authlog.Event {
	recs := make([]authlog.Event, n)
	for i := range recs {
		recs[i] = authlog.Event{Kind: authlog.KindFailure, Service: "sshd", User: "root", SourceIP: netip.MustParseAddr("192.0.2.9"), Count: 1, Time: time.Now()}
	}
	return recs
}

// A stopping source whose whole batch is queued waits for the pipeline to
// judge it (the agent drains after closing its sensors), so the batch is
// committed and not judged again after the restart; a batch it could not
// queue whole is not.
func TestJudgeWaitsForQueuedBatchWhenStopping(t *testing.T) {
	s := newAuthSource(AuthConfig{}, t.TempDir(), slog.New(slog.DiscardHandler))

	q := &testSink{}
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan bool)
	go func() { res <- s.judge(ctx, failures(5), q) }()
	for {
		q.mu.Lock()
		n := len(q.events)
		q.mu.Unlock()
		if n == 5 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	time.Sleep(20 * time.Millisecond) // the source sees the stop first
	q.judgeAll()
	if !<-res {
		t.Error("a batch queued whole and judged during the stop was not reported handled")
	}

	q = &testSink{room: 3}
	ctx, cancel = context.WithCancel(context.Background())
	go func() { res <- s.judge(ctx, failures(5), q) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	q.judgeAll()
	if <-res {
		t.Error("a batch cut short by the stop was reported handled: its last lines would be lost")
	}
}
