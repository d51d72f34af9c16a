package link

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
)

// A fleet of agents each sends a few records at a time and beats every
// 30 s. Written one transaction per batch and per heartbeat, that is
// thousands of commits a second at 10,000 agents, more than one SQLite
// writer can do. So the link writes in groups:
//
//   - Small upload batches go to the committer goroutines (one for
//     SQLite's single writer, several for PostgreSQL, Options.Committers);
//     a free one stores every batch waiting in one transaction (group
//     commit). A
//     batch is still acknowledged only after its transaction commits.
//   - Heartbeats are kept in memory and written in bulk every second;
//     a heartbeat is not a record, and losing the last second of "last
//     seen" to a crash costs nothing.
//   - Pending task runs are looked up once for the whole fleet.

const (
	// maxGroupBatches and maxGroupRecords bound one group commit.
	maxGroupBatches = 512
	maxGroupRecords = 20000
	// directBatchRecords: a batch this large is a transaction's worth on
	// its own; it is written by its stream, in parallel with the
	// committer's work (checks and encoding; PostgreSQL writes too).
	directBatchRecords = 256
	// seenFlushInterval is how often heartbeats are written.
	seenFlushInterval = time.Second
)

// commitReq is one upload batch waiting for the committer.
type commitReq struct {
	b    store.Batch
	done chan commitRes // buffered: the committer never blocks on it
}

type commitRes struct {
	added store.BatchAdded
	err   error
}

// start runs the background loops until shutdown; Serve calls it.
func (s *Server) start() {
	s.startOnce.Do(func() {
		for range s.o.Committers {
			s.bg.Go(func() { s.commitLoop(s.bgCtx) })
		}
		s.bg.Go(func() { s.seenLoop(s.bgCtx) })
		s.bg.Go(func() { s.pollLoop(s.bgCtx) })
		s.running.Store(true)
	})
}

// shutdown stops the loops and writes the last heartbeats.
func (s *Server) shutdown() {
	s.stopOnce.Do(func() {
		s.bgCancel()
		s.bg.Wait()
		s.running.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.flushSeen(ctx)
	})
}

// commit stores one host's batch through the committer (directly when
// it is not running).
func (s *Server) commit(ctx context.Context, b store.Batch) (store.BatchAdded, error) {
	req := commitReq{b: b, done: make(chan commitRes, 1)}
	direct := func() (store.BatchAdded, error) {
		added, err := s.o.Store.Ingest(ctx, []store.Batch{b})
		if err != nil {
			return store.BatchAdded{}, err
		}
		return added[0], nil
	}
	if !s.running.Load() || records(b) >= directBatchRecords {
		return direct()
	}
	select {
	case s.commits <- req:
	case <-s.bgCtx.Done():
		return direct()
	case <-ctx.Done():
		return store.BatchAdded{}, ctx.Err()
	}
	select {
	case r := <-req.done:
		return r.added, r.err
	case <-ctx.Done():
		// The committer may still store it; the agent sends the batch
		// again and ingest is idempotent.
		return store.BatchAdded{}, ctx.Err()
	}
}

// commitLoop stores waiting batches in groups. Batches that arrive while
// a group is being written form the next group, so a group grows with
// the load and adds no delay when the link is quiet.
func (s *Server) commitLoop(ctx context.Context) {
	for {
		var first commitReq
		select {
		case <-ctx.Done():
			s.drainCommits()
			return
		case first = <-s.commits:
		}
		group := []commitReq{first}
		n := records(first.b)
	gather:
		for len(group) < maxGroupBatches && n < maxGroupRecords {
			select {
			case r := <-s.commits:
				group = append(group, r)
				n += records(r.b)
			default:
				break gather
			}
		}
		s.commitGroup(group)
	}
}

// drainCommits answers requests left when the loop stops; their senders
// fall back to writing directly or give up with their stream.
func (s *Server) drainCommits() {
	for {
		select {
		case r := <-s.commits:
			s.commitGroup([]commitReq{r})
		default:
			return
		}
	}
}

func records(b store.Batch) int { return len(b.Alerts) + len(b.Events) }

// commitGroup writes a group in one transaction. When the group fails
// because one batch cannot be stored (bad record, unknown host), each batch
// is written on its own so that one agent's bad record does not hold back
// the others; that batch's sender then finds the bad record.
func (s *Server) commitGroup(group []commitReq) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bs := make([]store.Batch, len(group))
	for i, r := range group {
		bs[i] = r.b
	}
	added, err := s.o.Store.Ingest(ctx, bs)
	if err == nil {
		s.nCommits.Add(1)
		s.nBatches.Add(uint64(len(group)))
		for i, r := range group {
			r.done <- commitRes{added: added[i]}
		}
		return
	}
	if len(group) == 1 || !(errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound)) {
		for _, r := range group {
			r.done <- commitRes{err: err}
		}
		return
	}
	for _, r := range group {
		added, err := s.o.Store.Ingest(ctx, []store.Batch{r.b})
		if err != nil {
			r.done <- commitRes{err: err}
			continue
		}
		s.nCommits.Add(1)
		s.nBatches.Add(1)
		r.done <- commitRes{added: added[0]}
	}
}

// seen records a heartbeat for the next bulk write.
func (s *Server) seen(h store.HostSeen) {
	s.seenMu.Lock()
	s.pendingSeen[h.ID] = h
	s.seenMu.Unlock()
}

func (s *Server) seenLoop(ctx context.Context) {
	t := time.NewTicker(seenFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.flushSeen(ctx)
		}
	}
}

// flushSeen writes the heartbeats received since the last flush. On
// failure they are kept for the next one (unless a newer one came).
func (s *Server) flushSeen(ctx context.Context) {
	s.seenMu.Lock()
	batch := s.pendingSeen
	s.pendingSeen = make(map[string]store.HostSeen, len(batch))
	s.seenMu.Unlock()
	if len(batch) == 0 {
		return
	}
	hs := make([]store.HostSeen, 0, len(batch))
	for _, h := range batch {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, func(a, b store.HostSeen) int { return strings.Compare(a.ID, b.ID) })
	err := s.o.Store.TouchHosts(ctx, hs)
	if err == nil {
		return
	}
	if errors.Is(err, store.ErrInvalid) {
		// Heartbeat text is checked on receipt; write the good ones.
		for _, h := range hs {
			if err := s.o.Store.TouchHosts(ctx, []store.HostSeen{h}); err != nil {
				s.log.Error("record heartbeat", "host", h.ID, "err", err)
			}
		}
		return
	}
	s.log.Error("record heartbeats", "hosts", len(hs), "err", err)
	s.seenMu.Lock()
	for _, h := range hs {
		if _, newer := s.pendingSeen[h.ID]; !newer {
			s.pendingSeen[h.ID] = h
		}
	}
	s.seenMu.Unlock()
}

// pollLoop looks up, for the whole fleet at once, which hosts are revoked
// and which have pending task runs, and wakes those hosts' task streams.
// A run submitted through the console wakes its host at once
// (KickTasks); the poll catches runs added by the scheduler and other
// server replicas. A connection opened later is checked against the store
// itself (authenticate).
func (s *Server) pollLoop(ctx context.Context) {
	t := time.NewTicker(s.o.TaskPollInterval)
	defer t.Stop()
	for {
		s.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) poll(ctx context.Context) {
	if ids, err := s.o.Store.RevokedHosts(ctx); err != nil {
		if ctx.Err() == nil {
			s.log.Error("revoked hosts", "err", err)
		}
	} else {
		set := make(map[string]bool, len(ids))
		for _, id := range ids {
			set[id] = true
		}
		s.mu.Lock()
		s.revoked = set
		s.mu.Unlock()
	}
	if s.o.TaskSigner == nil {
		return
	}
	hosts, err := s.o.Store.PendingHosts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("pending task runs", "err", err)
		}
		return
	}
	for _, h := range hosts {
		s.KickTasks(h)
	}
}

// isRevoked reports whether the last poll found the host revoked.
func (s *Server) isRevoked(hostID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked[hostID]
}
