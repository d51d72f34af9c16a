package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/pgtest"
	"github.com/vigilsec/vigil/internal/server/web"
	"github.com/vigilsec/vigil/internal/severity"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, pgtest.Options{})) }

// TestReplicasExportOnce runs two server replicas on one PostgreSQL store
// (sharing the CA and task key, as replicas must): one is the primary and
// exports every alert once, in order per host; when it stops, the other
// takes the lease over and exports what comes next.
func TestReplicasExportOnce(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Require(t)
	dsn, drop, err := c.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer drop()

	hook := newHookRecorder(t)

	dirA, dirB := t.TempDir(), t.TempDir()
	a, stopA := runServerWith(t, Config{DataDir: dirA, Store: dsn}, func(s *Server) {
		if err := s.Store.PutSetting(ctx, web.NotificationsKey, hook.setting()); err != nil {
			t.Fatal(err)
		}
	})
	defer stopA()
	// The second replica gets the first's CA and task key.
	if out, err := exec.Command("cp", "-a", dirA+"/.", dirB).CombinedOutput(); err != nil {
		t.Fatalf("copy data dir: %v: %s", err, out)
	}
	b, stopB := runServerWith(t, Config{DataDir: dirB, Store: dsn}, nil)
	defer stopB()
	if !a.primary.Held() || b.primary.Held() {
		t.Fatalf("primary: a %v, b %v; want a only", a.primary.Held(), b.primary.Held())
	}
	var m strings.Builder
	b.writeMetrics(&m)
	if !strings.Contains(m.String(), "vigil_server_primary 0\n") {
		t.Errorf("standby metrics lack vigil_server_primary 0")
	}

	now := time.Now().UTC()
	for _, h := range []string{"h1", "h2"} {
		if err := a.Store.UpsertHost(ctx, store.Host{ID: h, Hostname: h, EnrolledAt: now, LastSeen: now}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	live := []*Server{a, b} // replicas that take uploads
	ingest := func(from, to int) {
		for i := from; i < to; i += 10 {
			var as []alert.Alert
			for j := i; j < i+10; j++ {
				id := fmt.Sprintf("h%d-%04d", 1+j%2, j)
				want = append(want, id)
				as = append(as, alert.Alert{ID: id, Time: now, Rule: alert.Rule{ID: "VGL-X", Title: "x"}, Severity: severity.High})
			}
			// Both hosts' alerts arrive through both replicas.
			for _, h := range []string{"h1", "h2"} {
				var mine []alert.Alert
				for _, al := range as {
					if strings.HasPrefix(al.ID, h+"-") {
						mine = append(mine, al)
					}
				}
				s := live[(i/10)%len(live)]
				if _, err := s.Store.IngestAlerts(ctx, h, mine); err != nil {
					t.Fatal(err)
				}
				for _, s := range live {
					s.notify.kick()
				}
			}
		}
	}
	waitDelivered := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if got, _ := hook.received(); len(got) >= n {
				return
			}
			if time.Now().After(deadline) {
				got, _ := hook.received()
				t.Fatalf("delivered %d of %d alerts", len(got), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ingest(0, 200)
	waitDelivered(200)

	stopA() // releases the lease: b takes over at its next renewal
	live = []*Server{b}
	deadline := time.Now().Add(30 * time.Second)
	for !b.primary.Held() {
		if time.Now().After(deadline) {
			t.Fatal("the standby never became the primary")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ingest(200, 300)
	waitDelivered(300)
	time.Sleep(3 * outboxPoll) // let any duplicate show up

	got, order := hook.received()
	for _, id := range want {
		if got[id] != 1 {
			t.Errorf("%s delivered %d times, want once", id, got[id])
		}
	}
	last := map[string]string{}
	for _, id := range order {
		h := id[:2]
		if id < last[h] {
			t.Errorf("%s delivered after %s", id, last[h])
		}
		last[h] = id
	}
}
