package export

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scripted is a Sender whose answers are scripted per call.
type scripted struct {
	mu     sync.Mutex
	script []func(recs []Record) (int, error) // consumed in order; then all succeed
	got    []uint64
	calls  int
	block  chan struct{} // when set, Send waits on it (or ctx)
	closed bool
}

func (s *scripted) Send(ctx context.Context, recs []Record) (int, error) {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	n, err := len(recs), error(nil)
	if len(s.script) > 0 {
		n, err = s.script[0](recs)
		s.script = s.script[1:]
	}
	for _, r := range recs[:n] {
		s.got = append(s.got, r.Seq)
	}
	return n, err
}

func (s *scripted) Close() error { s.mu.Lock(); s.closed = true; s.mu.Unlock(); return nil }

func recs(from, to uint64) []Record {
	var out []Record
	for i := from; i <= to; i++ {
		out = append(out, Record{Seq: i, Key: fmt.Sprint("k", i), Data: []byte(`{}`)})
	}
	return out
}

var fast = Options{MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}

func flush(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func seqs(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestDeliversInOrderWithRetries(t *testing.T) {
	transient := func([]Record) (int, error) { return 0, errors.New("connection refused") }
	partial := func([]Record) (int, error) { return 2, errors.New("broken pipe") }
	s := &scripted{script: []func([]Record) (int, error){transient, transient, partial, transient}}
	o := fast
	o.MaxBatch = 4
	q := New(s, o)
	if err := q.Export(context.Background(), recs(1, 10)); err != nil {
		t.Fatal(err)
	}
	flush(t, q)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(seqs(1, 10), s.got); d != "" {
		t.Errorf("delivered (-want +got):\n%s", d)
	}
	st := q.Stats()
	want := Stats{Delivered: 10, Retries: 4, Position: 10}
	if d := cmp.Diff(want, st); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
	if !s.closed {
		t.Error("sender not closed")
	}
}

func TestPermanentRejectsOneRecord(t *testing.T) {
	reject := func(recs []Record) (int, error) { return 1, Permanent(errors.New("400 bad request")) }
	s := &scripted{script: []func([]Record) (int, error){reject}}
	q := New(s, fast)
	defer q.Close()
	if err := q.Export(context.Background(), recs(1, 5)); err != nil {
		t.Fatal(err)
	}
	flush(t, q)
	if d := cmp.Diff([]uint64{1, 3, 4, 5}, s.got); d != "" {
		t.Errorf("delivered (-want +got):\n%s", d)
	}
	st := q.Stats()
	if st.Rejected != 1 || st.Delivered != 4 || st.Position != 5 || st.Retries != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	var first time.Time
	var gap time.Duration
	s := &scripted{script: []func([]Record) (int, error){
		func([]Record) (int, error) {
			first = time.Now()
			return 0, RetryAfter(errors.New("429"), 50*time.Millisecond)
		},
		func([]Record) (int, error) { gap = time.Since(first); return 1, nil },
	}}
	q := New(s, Options{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	defer q.Close()
	q.Export(context.Background(), recs(1, 1))
	flush(t, q)
	// Not a timing test of the scheduler: Retry-After is a lower bound the
	// exporter must respect, whatever the machine's speed.
	if gap < 50*time.Millisecond {
		t.Errorf("retried after %v, before Retry-After", gap)
	}
}

func TestQueueFullDropsAndCounts(t *testing.T) {
	s := &scripted{block: make(chan struct{})}
	q := New(s, Options{QueueSize: 4, MaxBatch: 1, MinBackoff: time.Millisecond})
	defer q.Close()
	err := q.Export(context.Background(), recs(1, 6))
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Export = %v, want ErrQueueFull", err)
	}
	if st := q.Stats(); st.Dropped != 2 || st.Queued != 4 {
		t.Errorf("stats = %+v", st)
	}
	close(s.block)
	flush(t, q)
	st := q.Stats()
	if st.Delivered != 4 || st.Position != 4 {
		t.Errorf("after drain: stats = %+v; position must stop below the first drop (5)", st)
	}
	// Re-exporting the dropped records fills the gap.
	if err := q.Export(context.Background(), recs(5, 6)); err != nil {
		t.Fatal(err)
	}
	flush(t, q)
	if st := q.Stats(); st.Position != 6 || st.Delivered != 6 {
		t.Errorf("after replay: stats = %+v", st)
	}
}

func TestPositionStopsBelowDropWhileLaterDelivered(t *testing.T) {
	s := &scripted{block: make(chan struct{})}
	q := New(s, Options{QueueSize: 2, MaxBatch: 1, MinBackoff: time.Millisecond})
	defer q.Close()
	q.Export(context.Background(), recs(1, 3)) // 3 dropped
	close(s.block)
	flush(t, q)
	q.Export(context.Background(), recs(4, 4)) // later records go through
	flush(t, q)
	if st := q.Stats(); st.Position != 2 {
		t.Errorf("Position = %d, want 2 (seq 3 was dropped)", st.Position)
	}
}

func TestCloseWhileRetrying(t *testing.T) {
	always := make([]func([]Record) (int, error), 1000)
	for i := range always {
		always[i] = func([]Record) (int, error) { return 0, errors.New("down") }
	}
	s := &scripted{script: always}
	q := New(s, Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	q.Export(context.Background(), recs(1, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := q.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush = %v, want deadline exceeded", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Export(context.Background(), recs(4, 4)); !errors.Is(err, ErrClosed) {
		t.Errorf("Export after Close = %v, want ErrClosed", err)
	}
	if st := q.Stats(); st.Queued != 3 || st.Delivered != 0 || st.LastError != "down" {
		t.Errorf("stats = %+v", st)
	}
}

func TestBackoffBounds(t *testing.T) {
	q := &Queue{opts: Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxRetryAfter: time.Minute}}
	for attempt := 1; attempt < 20; attempt++ {
		d := q.backoff(attempt, errors.New("x"))
		if d < 50*time.Millisecond || d > time.Second {
			t.Errorf("attempt %d: backoff %v out of bounds", attempt, d)
		}
	}
	if d := q.backoff(1, RetryAfter(errors.New("429"), time.Hour)); d != time.Minute {
		t.Errorf("Retry-After not capped: %v", d)
	}
}
