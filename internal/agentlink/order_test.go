package agentlink_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/agentlink"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/server/link"
	"github.com/vigilsec/vigil/internal/server/link/linktest"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/spool"
	"github.com/vigilsec/vigil/internal/testutil"
)

// recordingStore notes the order in which alerts reach the store.
type recordingStore struct {
	store.Store
	mu  sync.Mutex
	ids []string
}

func (r *recordingStore) note(as []alert.Alert) {
	r.mu.Lock()
	for _, a := range as {
		r.ids = append(r.ids, a.ID)
	}
	r.mu.Unlock()
}

func (r *recordingStore) IngestAlerts(ctx context.Context, host string, as []alert.Alert) (int, error) {
	n, err := r.Store.IngestAlerts(ctx, host, as)
	if err == nil {
		r.note(as)
	}
	return n, err
}

func (r *recordingStore) Ingest(ctx context.Context, bs []store.Batch) ([]store.BatchAdded, error) {
	added, err := r.Store.Ingest(ctx, bs)
	if err == nil {
		for _, b := range bs {
			r.note(b.Alerts)
		}
	}
	return added, err
}

// outageEnv sets TestOfflineThenInOrder's outage (a Go duration; default
// 3 s). With "10m" it is the "agent offline 10 minutes" case, run
// with the agent's real reconnect backoff (1 s to 60 s).
const outageEnv = "VIGIL_TEST_OUTAGE"

// TestOfflineThenInOrder: the server is down while the agent produces
// alerts throughout the outage; after it returns, every alert is
// delivered exactly once, first deliveries in the order the agent
// produced them.
func TestOfflineThenInOrder(t *testing.T) {
	outage := 3 * time.Second
	if v := os.Getenv(outageEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive duration", outageEnv, v)
		}
		outage = d
	}
	var tweak func(*agentlink.Options)
	if outage >= time.Minute {
		tweak = func(o *agentlink.Options) { o.MinBackoff, o.MaxBackoff = time.Second, time.Minute }
	}
	dir := t.TempDir()
	e := linktest.Start(t, dir, "", nil)
	c := newClient(t, t.TempDir(), e.Addr, e.Token(t), tweak)
	run(t, c)
	waitFor(t, "connection", 10*time.Second, func() bool { return c.Stats().Connected })
	host := c.HostID()
	e.Stop() // the server goes away
	const n = 5000
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(outage * time.Duration(i) / n)))
		if err := c.SendAlert(testAlert("o", i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Until(start.Add(outage)))
	if got := c.Stats().SpoolPending; got < n {
		t.Fatalf("%d records pending in the spool after the outage, want at least %d", got, n)
	}
	t.Logf("server down for %v; %d alerts spooled", time.Since(start).Round(time.Second), n)
	rec := &recordingStore{}
	e2 := linktest.Start(t, dir, e.Addr, func(o *link.Options) { rec.Store = o.Store; o.Store = rec })
	back := time.Now()
	waitFor(t, "delivery", 60*time.Second+2*time.Minute, func() bool { return countAlerts(t, e2.Store, host) == n && c.Stats().SpoolPending == 0 })
	t.Logf("all delivered %v after the server returned", time.Since(back).Round(time.Millisecond))
	checkExactlyOnce(t, e2.Store, host, "o", n)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seen, next := map[string]bool{}, 0
	for _, id := range rec.ids {
		if seen[id] {
			continue // a redelivery
		}
		seen[id] = true
		if want := fmt.Sprintf("o-%06d", next); id != want {
			t.Fatalf("first delivery #%d is %s, want %s", next, id, want)
		}
		next++
	}
	if next != n {
		t.Fatalf("the store saw %d distinct alerts arrive, want %d", next, n)
	}
}

// TestSpoolOnFullDisk: the agent's data directory is on a full 1 MiB
// tmpfs. Alerts are dropped and counted, the count reaches the server in
// the heartbeat, and once space returns the spool is intact: everything
// spooled is delivered, and new alerts are spooled again.
func TestSpoolOnFullDisk(t *testing.T) {
	testutil.RequireRoot(t)
	adir := t.TempDir()
	if err := unix.Mount("tmpfs", adir, "tmpfs", 0, "size=1m"); err != nil {
		testutil.Require(t, "VIGIL_REQUIRE_ROOT", false, "mount tmpfs: "+err.Error())
	}
	t.Cleanup(func() { unix.Unmount(adir, unix.MNT_DETACH) })
	e := linktest.Start(t, "", "", nil)
	c := newClient(t, filepath.Join(adir, "data"), e.Addr, e.Token(t), func(o *agentlink.Options) { o.SpoolSegmentBytes = 64 << 10 })
	if err := c.Enrol(context.Background()); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(adir, "filler")
	if out, err := exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=4096", "count=200").CombinedOutput(); err != nil {
		t.Fatalf("dd: %v\n%s", err, out)
	}
	big := bytes.Repeat([]byte("x"), 2000)
	sent, dropped := 0, 0
	for i := 0; dropped < 20; i++ {
		a := testAlert("f", i)
		a.Evidence["blob"] = string(big)
		err := c.SendAlert(a)
		switch {
		case err == nil:
			sent++
		case errors.Is(err, spool.ErrFull):
			dropped++
		default:
			t.Fatalf("alert %d: %v", i, err)
		}
		if i > 10000 {
			t.Fatal("the disk never filled")
		}
	}
	run(t, c)
	waitFor(t, "drops in the heartbeat", 10*time.Second, func() bool {
		hb, ok := e.Server.Heartbeat(c.HostID())
		return ok && hb.SpoolDrops == uint64(dropped)
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", 30*time.Second, func() bool { return countAlerts(t, e.Store, c.HostID()) == sent })
	if err := c.SendAlert(testAlert("after", 0)); err != nil {
		t.Fatalf("alert after space returned: %v", err)
	}
	waitFor(t, "delivery after space returned", 30*time.Second, func() bool { return countAlerts(t, e.Store, c.HostID()) == sent+1 })
}
