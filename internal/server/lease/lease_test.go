package lease

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/server/store/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestKeepers(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.OpenDir(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	const ttl = 40 * time.Second
	a, b := New(st, "primary", ttl, nil), New(st, "primary", ttl, nil)
	a.Now, b.Now = clk.now, clk.now
	if a.Holder() == b.Holder() {
		t.Fatalf("two keepers share holder ID %q", a.Holder())
	}
	try := func(k *Keeper, want bool) {
		t.Helper()
		ok, err := k.Try(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok != want || k.Held() != want {
			t.Fatalf("%s: Try %v, Held %v, want %v", k.Holder(), ok, k.Held(), want)
		}
	}
	try(a, true)
	try(b, false)
	clk.add(ttl/2 - time.Second)
	if !a.Held() {
		t.Fatal("a lost the lease before half its TTL")
	}
	clk.add(time.Second)
	if a.Held() {
		t.Fatal("a still counts the lease as held after half its TTL without renewal")
	}
	try(b, false) // but the store keeps it a's for the whole TTL
	clk.add(ttl / 2)
	try(b, true) // expired: b takes over
	try(a, false)
	if a.Held() {
		t.Fatal("a holds a lease b took over")
	}
	b.Release()
	if b.Held() {
		t.Fatal("b holds the lease after Release")
	}
	try(a, true) // released: no need to wait for expiry
	b.Release()  // not b's: a keeps it
	try(a, true)
}

// TestRunHandsOver: when the primary's Run ends, it releases the lease and
// the other replica's Run takes it at its next renewal.
func TestRunHandsOver(t *testing.T) {
	st, err := sqlite.OpenDir(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const ttl = 400 * time.Millisecond
	a, b := New(st, "primary", ttl, nil), New(st, "primary", ttl, nil)
	actx, stopA := context.WithCancel(context.Background())
	bctx, stopB := context.WithCancel(context.Background())
	defer stopB()
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(actx) })
	waitFor(t, "a to hold the lease", a.Held)
	wg.Go(func() { b.Run(bctx) })
	for range 10 {
		time.Sleep(ttl / 8)
		if b.Held() {
			t.Fatal("b holds the lease while a renews it")
		}
	}
	stopA()
	waitFor(t, "b to take the lease over", b.Held)
	if a.Held() {
		t.Fatal("a still holds the lease after its Run ended")
	}
	stopB()
	wg.Wait()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
