// Package export forwards OCSF records (alerts, vulnerability findings,
// audit entries) to a team's SIEM. The server's store is the durable copy:
// an exporter holds a bounded in-memory queue in front of one transport
// (webhook, syslog, Kafka; the sub-packages), retries with exponential
// backoff while the destination is down, counts what it drops, and reports
// the store position it has finished with, so the server can replay from
// there after a restart or a drop.
package export

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/severity"
)

// Record is one OCSF event on its way out.
type Record struct {
	// Seq is the record's position in the server's store. Positions
	// increase in the order records are handed to Export.
	Seq uint64
	// Key is the idempotency key: the same record always has the same key
	// (the alert ID, the finding UID), so a receiver can drop the
	// duplicates retries may cause.
	Key string
	// Host is the host the record is about ("" when none).
	Host string
	// Class is the OCSF class_uid (2004, 2002, …).
	Class int
	// Severity is the record's severity.
	Severity severity.Level
	// Time is when the record's event happened.
	Time time.Time
	// Data is one OCSF event as a JSON object.
	Data []byte
}

// Exporter forwards records to one destination.
type Exporter interface {
	// Export queues records for delivery and returns at once. When the
	// queue cannot take them all it keeps those that fit, counts the rest
	// as dropped and returns an error wrapping ErrQueueFull; the caller
	// replays them later from Stats().Position. It returns ErrClosed after
	// Close.
	Export(ctx context.Context, recs []Record) error
	// Close stops delivery and releases the transport. Records still
	// queued are abandoned (the store has them); call Flush first to
	// drain.
	Close() error
}

// Sender is one transport. Send makes one attempt to deliver recs in
// order and returns how many, from the front, were delivered. An error
// wrapped by Permanent means retrying cannot help (a 4xx, a record too
// large); the first record not delivered is then dropped and counted.
// Any other error is retried with backoff. Send must return when ctx is
// canceled. Senders are called from one goroutine at a time.
type Sender interface {
	Send(ctx context.Context, recs []Record) (int, error)
	Close() error
}

// Sentinel errors.
var (
	ErrQueueFull = errors.New("export queue full")
	ErrClosed    = errors.New("exporter closed")
)

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err as retryable no sooner than d from now (an HTTP
// 429's Retry-After).
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err, d}
}

// Options tune the queue in front of a Sender.
type Options struct {
	// QueueSize bounds the records held in memory (default 10000).
	QueueSize int
	// MaxBatch bounds the records passed to one Send (default 500).
	MaxBatch int
	// MinBackoff and MaxBackoff bound the wait between attempts
	// (defaults 200ms and 30s); the wait doubles per failed attempt, with
	// jitter.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps a destination's Retry-After (default 5m).
	MaxRetryAfter time.Duration
}

func (o *Options) defaults() {
	if o.QueueSize <= 0 {
		o.QueueSize = 10000
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 500
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 5 * time.Minute
	}
}

// Stats are an exporter's counters.
type Stats struct {
	// Queued is how many records wait in memory.
	Queued int
	// Delivered counts records the destination accepted.
	Delivered uint64
	// Dropped counts records refused because the queue was full.
	Dropped uint64
	// Rejected counts records the destination refused for good
	// (Permanent errors).
	Rejected uint64
	// Retries counts failed attempts that were retried.
	Retries uint64
	// Position is the Seq of the last record the exporter is finished
	// with, delivered or rejected; replay from Position+1. Records dropped
	// at Export never advance it past themselves: it stops below the
	// first one until the caller exports it again.
	Position uint64
	// LastError is the latest send error ("" after a success).
	LastError string
}

// Queue is an Exporter made of a bounded queue and a Sender.
type Queue struct {
	s    Sender
	opts Options

	mu       sync.Mutex
	cond     *sync.Cond // signalled on enqueue, progress and close
	buf      []Record
	stats    Stats
	lowDrop  uint64 // lowest Seq dropped at Export and not re-exported; 0 none
	closed   bool
	inFlight bool

	cancel context.CancelFunc
	done   chan struct{}
}

var _ Exporter = (*Queue)(nil)

// New starts an exporter that delivers through s.
func New(s Sender, opts Options) *Queue {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{s: s, opts: opts, cancel: cancel, done: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	go q.run(ctx)
	return q
}

// Export implements Exporter.
func (q *Queue) Export(ctx context.Context, recs []Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	room := q.opts.QueueSize - len(q.buf)
	n := min(room, len(recs))
	if n < 0 {
		n = 0
	}
	for _, r := range recs[:n] {
		if q.lowDrop != 0 && r.Seq <= q.lowDrop {
			q.lowDrop = 0 // the gap is being refilled
		}
	}
	q.buf = append(q.buf, recs[:n]...)
	if n > 0 {
		q.cond.Broadcast()
	}
	if n == len(recs) {
		return nil
	}
	dropped := recs[n:]
	q.stats.Dropped += uint64(len(dropped))
	if q.lowDrop == 0 || dropped[0].Seq < q.lowDrop {
		q.lowDrop = dropped[0].Seq
	}
	return fmt.Errorf("%w: dropped %d records from seq %d", ErrQueueFull, len(dropped), dropped[0].Seq)
}

// Flush waits until every queued record is delivered or rejected, or ctx
// ends.
func (q *Queue) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.buf) > 0 || q.inFlight {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("flush: %d records left: %w", len(q.buf), err)
		}
		if q.closed {
			return ErrClosed
		}
		q.cond.Wait()
	}
	return nil
}

// Stats returns the current counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Queued = len(q.buf)
	if q.lowDrop != 0 && s.Position >= q.lowDrop {
		s.Position = q.lowDrop - 1
	}
	return s
}

// Close implements Exporter.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
	q.cancel()
	<-q.done
	return q.s.Close()
}

func (q *Queue) run(ctx context.Context) {
	defer close(q.done)
	attempt := 0
	for {
		q.mu.Lock()
		for len(q.buf) == 0 && !q.closed {
			q.cond.Wait()
		}
		if q.closed {
			q.mu.Unlock()
			return
		}
		batch := q.buf[:min(len(q.buf), q.opts.MaxBatch)]
		q.inFlight = true
		q.mu.Unlock()

		n, err := q.s.Send(ctx, batch)
		n = max(0, min(n, len(batch)))

		q.mu.Lock()
		q.inFlight = false
		done := n
		if n > 0 {
			q.stats.Delivered += uint64(n)
			q.stats.Position = batch[n-1].Seq
		}
		var wait time.Duration
		switch {
		case err == nil:
			q.stats.LastError = ""
			attempt = 0
		case IsPermanent(err):
			q.stats.LastError = err.Error()
			if n < len(batch) {
				q.stats.Rejected++
				q.stats.Position = batch[n].Seq
				done++
			}
			attempt = 0
		default:
			q.stats.LastError = err.Error()
			if ctx.Err() == nil {
				q.stats.Retries++
			}
			if n == 0 {
				attempt++
			} else {
				attempt = 1
			}
			wait = q.backoff(attempt, err)
		}
		// Release the finished records: clear them so the backing array
		// does not pin their data; append reallocates once it is used up.
		clear(q.buf[:done])
		q.buf = q.buf[done:]
		q.cond.Broadcast()
		q.mu.Unlock()

		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

func (q *Queue) backoff(attempt int, err error) time.Duration {
	var ra *retryAfterError
	if errors.As(err, &ra) && ra.after > 0 {
		return min(ra.after, q.opts.MaxRetryAfter)
	}
	d := q.opts.MinBackoff
	for i := 1; i < attempt && d < q.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, q.opts.MaxBackoff)
	// Full jitter over the upper half keeps many exporters from retrying
	// in step.
	return d/2 + rand.N(d/2+1)
}
