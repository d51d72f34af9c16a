// Package lease keeps a named store lease for this server process. Server
// replicas that share a PostgreSQL store each run a Keeper for the same
// name; at most one of them holds it at a time, and that one (the primary)
// does the work that must not run twice: creating the runs of scheduled
// tasks, failing runs whose result never came, and exporting alerts. When
// the primary stops, it releases the lease and another replica takes it
// within one renewal interval; when it dies, within the lease's TTL.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
)

// DefaultTTL is how long a lease lasts without renewal.
const DefaultTTL = 30 * time.Second

// Keeper tries to take and keep one lease. It is safe for concurrent use.
type Keeper struct {
	st     store.Store
	name   string
	holder string
	ttl    time.Duration
	log    *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	until time.Time // Held is true before this
}

// New returns a Keeper of the lease name in st with a holder ID unique to
// this process (host name and a random suffix).
func New(st store.Store, name string, ttl time.Duration, log *slog.Logger) *Keeper {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return &Keeper{st: st, name: name, holder: host + "-" + hex.EncodeToString(b[:]), ttl: ttl, log: log}
}

// Holder is this process's holder ID.
func (k *Keeper) Holder() string { return k.holder }

func (k *Keeper) now() time.Time {
	if k.Now != nil {
		return k.Now().UTC()
	}
	return time.Now().UTC()
}

// Held reports whether this process holds the lease. It counts the lease
// as held for only half its TTL after the last successful renewal: the
// other half absorbs a late renewal and clock differences between
// replicas, so two replicas never both believe they hold it unless their
// clocks differ by more than TTL/2.
func (k *Keeper) Held() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.now().Before(k.until)
}

// Try takes or renews the lease once and reports whether it is held.
func (k *Keeper) Try(ctx context.Context) (bool, error) {
	now := k.now()
	ok, err := k.st.AcquireLease(ctx, k.name, k.holder, now, k.ttl)
	k.mu.Lock()
	was := k.now().Before(k.until)
	switch {
	case ok:
		k.until = now.Add(k.ttl / 2)
	case err == nil:
		k.until = time.Time{} // another replica has it
	}
	// On an error the lease stays as it was: held until its margin runs
	// out unless a later renewal succeeds.
	is := k.now().Before(k.until)
	k.mu.Unlock()
	if is != was {
		if is {
			k.log.Info("this server is now the primary replica", "lease", k.name, "holder", k.holder)
		} else {
			k.log.Info("this server is no longer the primary replica", "lease", k.name, "holder", k.holder)
		}
	}
	return ok, err
}

// Run renews the lease every TTL/4 until ctx ends, then releases it if
// held.
func (k *Keeper) Run(ctx context.Context) {
	tick := time.NewTicker(k.ttl / 4)
	defer tick.Stop()
	for {
		if _, err := k.Try(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("lease renewal failed", "lease", k.name, "error", err)
		}
		select {
		case <-ctx.Done():
			k.Release()
			return
		case <-tick.C:
		}
	}
}

// Release gives the lease up now so that another replica can take it
// without waiting for it to expire. The store releases it only if this
// process still holds it.
func (k *Keeper) Release() {
	k.mu.Lock()
	k.until = time.Time{}
	k.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := k.st.ReleaseLease(ctx, k.name, k.holder); err != nil {
		k.log.Warn("lease release failed; another replica takes over when it expires", "lease", k.name, "error", err)
	}
}
