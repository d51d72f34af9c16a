package link_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/pki"
	"github.com/vigilsec/vigil/internal/server/link"
	"github.com/vigilsec/vigil/internal/server/link/linktest"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

var hostSeq int

// newHost records a host with a certificate valid in [nb, na] and returns
// its ID and TLS certificate.
func newHost(t testing.TB, e *linktest.Env, ca *pki.CA, nb, na time.Time) (string, tls.Certificate) {
	t.Helper()
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(key, "web1")
	if err != nil {
		t.Fatal(err)
	}
	hostSeq++
	id := fmt.Sprintf("host%d", hostSeq)
	cert, err := ca.IssueClient(csr, id, nb, na)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := e.Store.UpsertHost(context.Background(), store.Host{ID: id, Hostname: "web1", CertSerial: pki.SerialHex(cert),
		CertSHA256: pki.Fingerprint(cert.Raw), EnrolledAt: now, LastSeen: now}); err != nil {
		t.Fatal(err)
	}
	return id, tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

func dial(t testing.TB, e *linktest.Env, cert *tls.Certificate) vigilv1.LinkClient {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(e.CA.Cert)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	conn, err := grpc.NewClient(e.Addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return vigilv1.NewLinkClient(conn)
}

// heartbeat sends one heartbeat and returns the status code of its ack.
func heartbeat(t *testing.T, cli vigilv1.LinkClient, req *vigilv1.HeartbeatRequest) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := cli.Heartbeat(ctx)
	if err != nil {
		return err
	}
	if err := st.Send(req); err != nil {
		_, err = st.Recv()
		return err
	}
	_, err = st.Recv()
	return err
}

func TestAuthentication(t *testing.T) {
	e := linktest.Start(t, "", "", nil)
	now := time.Now()
	otherCA, err := pki.NewCA("other", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, good := newHost(t, e, e.CA, now.Add(-time.Hour), now.Add(time.Hour))
	revokedID, revoked := newHost(t, e, e.CA, now.Add(-time.Hour), now.Add(time.Hour))
	if err := e.Store.RevokeHost(context.Background(), revokedID); err != nil {
		t.Fatal(err)
	}
	_, expired := newHost(t, e, e.CA, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	_, foreign := newHost(t, e, otherCA, now.Add(-time.Hour), now.Add(time.Hour))
	replacedID, replaced := newHost(t, e, e.CA, now.Add(-time.Hour), now.Add(time.Hour))
	// The host enrols again: its record names the new certificate.
	h, _ := e.Store.GetHost(context.Background(), replacedID)
	h.CertSHA256 = "00" + h.CertSHA256[2:]
	if err := e.Store.UpsertHost(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	// A valid certificate for a host the store does not know.
	key, _ := pki.NewKey()
	csr, _ := pki.NewCSR(key, "ghost")
	gc, err := e.CA.IssueClient(csr, "ghost", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ghost := tls.Certificate{Certificate: [][]byte{gc.Raw}, PrivateKey: key}

	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		want codes.Code
	}{
		{"valid", &good, codes.OK},
		{"revoked", &revoked, codes.PermissionDenied},
		{"expired", &expired, codes.Unauthenticated},
		{"no_certificate", nil, codes.Unauthenticated},
		{"other_ca", &foreign, codes.Unauthenticated},
		{"replaced_certificate", &replaced, codes.PermissionDenied},
		{"unknown_host", &ghost, codes.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := heartbeat(t, dial(t, e, tc.cert), &vigilv1.HeartbeatRequest{AgentVersion: "1.0"})
			if got := status.Code(err); got != tc.want {
				t.Fatalf("heartbeat: %v (code %s), want %s", err, got, tc.want)
			}
			// Upload is refused the same way.
			if tc.want != codes.OK {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				st, err := dial(t, e, tc.cert).Upload(ctx)
				if err == nil {
					st.Send(&vigilv1.UploadBatch{Seq: 1})
					_, err = st.Recv()
				}
				if got := status.Code(err); got != tc.want {
					t.Fatalf("upload: %v, want %s", err, tc.want)
				}
			}
		})
	}
}

func TestHeartbeatRecorded(t *testing.T) {
	e := linktest.Start(t, "", "", nil)
	now := time.Now()
	id, cert := newHost(t, e, e.CA, now.Add(-time.Hour), now.Add(time.Hour))
	if e.Server.Online(id) {
		t.Fatal("online before any heartbeat")
	}
	req := &vigilv1.HeartbeatRequest{AgentVersion: "2.1", SensorMode: "ebpf", Drops: map[string]uint64{"exec": 3},
		SpoolDrops: 7, QueueDepth: 12, RssBytes: 40 << 20, CpuMillis: 1500, Hostname: "web1.example", Os: "linux"}
	if err := heartbeat(t, dial(t, e, &cert), req); err != nil {
		t.Fatal(err)
	}
	info, ok := e.Server.Heartbeat(id)
	if !ok || info.AgentVersion != "2.1" || info.SensorMode != "ebpf" || info.Drops["exec"] != 3 || info.SpoolDrops != 7 ||
		info.QueueDepth != 12 || info.RSSBytes != 40<<20 || info.CPU != 1500*time.Millisecond {
		t.Fatalf("heartbeat info %+v, %v", info, ok)
	}
	if !e.Server.Online(id) {
		t.Fatal("not online after a heartbeat")
	}
	if st := e.Server.Stats(); st.AgentDrops != 3 || st.SpoolDrops != 7 || st.Online != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Heartbeats are written in bulk, within about a second.
	var h store.Host
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if h, err = e.Store.GetHost(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if h.AgentVersion == "2.1" && h.SensorMode == "ebpf" && h.Hostname == "web1.example" && h.LastSeen.After(now) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored host %+v", h)
		}
	}
	if !e.Server.OnlineHost(h, time.Now()) || e.Server.OnlineHost(h, time.Now().Add(2*time.Hour)) {
		t.Fatal("OnlineHost does not follow LastSeen")
	}
}

func TestUploadIdempotentAndRejects(t *testing.T) {
	var mu sync.Mutex
	var invHosts []string
	e := linktest.Start(t, "", "", func(o *link.Options) {
		o.OnInventory = func(h string) { mu.Lock(); invHosts = append(invHosts, h); mu.Unlock() }
	})
	now := time.Now()
	id, cert := newHost(t, e, e.CA, now.Add(-time.Hour), now.Add(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := dial(t, e, &cert).Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	alertJSON := func(i int) []byte {
		b, _ := json.Marshal(alert.Alert{ID: fmt.Sprintf("a%d", i), Time: now, Rule: alert.Rule{ID: "r1", Title: "t"}, Severity: severity.High})
		return b
	}
	batch := &vigilv1.UploadBatch{Seq: 1, Records: []*vigilv1.Record{
		{Kind: vigilv1.RecordKind_RECORD_KIND_ALERT, Id: "a1", Data: alertJSON(1)},
		{Kind: vigilv1.RecordKind_RECORD_KIND_EVENT, Id: "e1", TimeUnixNano: now.UnixNano(), EventKind: "exec", Data: []byte(`{"pid":1}`)},
		{Kind: vigilv1.RecordKind_RECORD_KIND_EVENT, Id: "", Data: []byte(`{}`)},                             // no ID
		{Kind: vigilv1.RecordKind_RECORD_KIND_EVENT, Id: "e2", Data: []byte(`{not json`)},                    // bad JSON
		{Kind: vigilv1.RecordKind_RECORD_KIND_ALERT, Id: "a2", Data: []byte(`[1]`)},                          // not an alert
		{Kind: vigilv1.RecordKind_RECORD_KIND_EVENT, Id: "e3", EventKind: "bad\x00kind", Data: []byte(`{}`)}, // store refuses NUL
		{Kind: vigilv1.RecordKind_RECORD_KIND_INVENTORY, TimeUnixNano: now.UnixNano(), Data: []byte(`{"packages":[]}`)},
		{Kind: 99, Id: "x"},
		{Kind: vigilv1.RecordKind_RECORD_KIND_ALERT, Id: "a3", Data: alertJSON(3)},
	}}
	for seq := uint64(1); seq <= 2; seq++ { // the same batch twice, as after a lost ack
		batch.Seq = seq
		if err := st.Send(batch); err != nil {
			t.Fatal(err)
		}
		ack, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var idx []uint32
		for _, r := range ack.GetRejected() {
			idx = append(idx, r.GetIndex())
		}
		if ack.GetSeq() != seq || fmt.Sprint(idx) != "[2 3 4 5 7]" {
			t.Fatalf("ack %d rejected %v (%v), want seq %d and [2 3 4 5 7]", ack.GetSeq(), idx, ack.GetRejected(), seq)
		}
	}
	if n, _ := e.Store.CountEvents(ctx, id); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
	if n, _ := e.Store.CountAlerts(ctx, store.AlertFilter{HostID: id}); n != 2 {
		t.Fatalf("%d alerts stored, want 2", n)
	}
	if h, _ := e.Store.InventoryHistory(ctx, id, 10); len(h) != 1 {
		t.Fatalf("%d inventory snapshots, want 1", len(h))
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(invHosts) != "["+id+"]" {
		t.Fatalf("OnInventory calls %v, want one for %s", invHosts, id)
	}
	if st := e.Server.Stats(); st.Alerts != 2 || st.Events != 1 || st.Inventories != 1 {
		t.Fatalf("stats %+v, want 2 alerts, 1 event, 1 inventory (redelivery not counted)", st)
	}
}

func TestEnrolBadCSRKeepsToken(t *testing.T) {
	e := linktest.Start(t, "", "", nil)
	tok, err := pki.ParseEnrolToken(e.Token(t))
	if err != nil {
		t.Fatal(err)
	}
	cli := dial(t, e, nil)
	ctx := context.Background()
	_, err = cli.Enrol(ctx, &vigilv1.EnrolRequest{Secret: tok.Secret, Hostname: "h", CsrDer: []byte("junk")})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad CSR: %v, want InvalidArgument", err)
	}
	key, _ := pki.NewKey()
	csr, _ := pki.NewCSR(key, "h")
	resp, err := cli.Enrol(ctx, &vigilv1.EnrolRequest{Secret: tok.Secret, Hostname: "h", CsrDer: csr})
	if err != nil {
		t.Fatalf("enrol after a bad CSR: %v", err)
	}
	h, err := e.Store.GetHost(ctx, resp.GetHostId())
	if err != nil || h.Hostname != "h" || h.CertSHA256 != pki.Fingerprint(resp.GetCertDer()) {
		t.Fatalf("host %+v, %v", h, err)
	}
	_, err = cli.Enrol(ctx, &vigilv1.EnrolRequest{Secret: tok.Secret, Hostname: "h", CsrDer: csr})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("second use of the token: %v, want PermissionDenied", err)
	}
}

// TestGroupCommitIsolatesBadBatch: many agents upload at once, so their
// batches are stored in shared transactions; one agent's record that the
// store refuses is rejected alone, and every other record is stored once.
func TestGroupCommitIsolatesBadBatch(t *testing.T) {
	e := linktest.Start(t, "", "", nil)
	now := time.Now()
	const agents, batches, perBatch = 24, 5, 20
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids := make([]string, agents)
	var wg sync.WaitGroup
	errs := make(chan error, agents)
	for a := range agents {
		id, cert := newHost(t, e, e.CA, now.Add(-time.Hour), now.Add(time.Hour))
		ids[a] = id
		cli := dial(t, e, &cert)
		wg.Go(func() {
			st, err := cli.Upload(ctx)
			if err != nil {
				errs <- err
				return
			}
			for b := range batches {
				var recs []*vigilv1.Record
				for i := range perBatch {
					kind := "exec"
					if a == 7 && b == 2 && i == 5 {
						kind = "bad\x00kind" // valid JSON, refused by the store
					}
					recs = append(recs, &vigilv1.Record{Kind: vigilv1.RecordKind_RECORD_KIND_EVENT, Id: fmt.Sprintf("e%d-%d", b, i),
						TimeUnixNano: now.UnixNano(), EventKind: kind, Data: []byte(`{"pid":1}`)})
				}
				if err := st.Send(&vigilv1.UploadBatch{Seq: uint64(b + 1), Records: recs}); err != nil {
					errs <- err
					return
				}
				ack, err := st.Recv()
				if err != nil {
					errs <- err
					return
				}
				want := 0
				if a == 7 && b == 2 {
					want = 1
				}
				if len(ack.GetRejected()) != want || (want == 1 && ack.GetRejected()[0].GetIndex() != 5) {
					errs <- fmt.Errorf("agent %d batch %d: rejected %v", a, b, ack.GetRejected())
					return
				}
			}
			st.CloseSend()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for a, id := range ids {
		want := batches * perBatch
		if a == 7 {
			want--
		}
		if n, err := e.Store.CountEvents(ctx, id); err != nil || n != want {
			t.Errorf("agent %d: %d events stored (%v), want %d", a, n, err, want)
		}
	}
	st := e.Server.Stats()
	if st.Events != agents*batches*perBatch-1 {
		t.Fatalf("stats count %d new events, want %d", st.Events, agents*batches*perBatch-1)
	}
	t.Logf("%d batches stored in %d transactions", st.Batches, st.Commits)
}
