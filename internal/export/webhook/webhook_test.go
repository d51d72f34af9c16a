package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/export"
	"github.com/vigilsec/vigil/internal/export/exporttest"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("whsec_test_5b1d")

// receiver is a webhook endpoint that checks every signature by itself
// (not through Verify) and records what it accepted.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	bodies []string
	keys   []string
	hdrs   []http.Header
	// status, when set, answers request n (0-based) instead of 200.
	status func(n int) (int, http.Header)
	n      int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("read body: %v", err)
	}
	sig := r.Header.Get(SignatureHeader)
	var ts, v1 string
	for _, p := range strings.Split(sig, ",") {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "." + string(body)))
	if want := hex.EncodeToString(m.Sum(nil)); v1 != want || ts == "" {
		rc.t.Errorf("signature %q does not match body (want v1=%s)", sig, want)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if !json.Valid(body) {
		rc.t.Errorf("body is not JSON: %q", body)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := rc.n
	rc.n++
	if rc.status != nil {
		if code, h := rc.status(n); code != 0 {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.WriteHeader(code)
			fmt.Fprintln(w, "scripted answer")
			return
		}
	}
	rc.bodies = append(rc.bodies, string(body))
	rc.keys = append(rc.keys, r.Header.Get(IdempotencyHeader))
	rc.hdrs = append(rc.hdrs, r.Header.Clone())
}

func records(n int) []export.Record {
	out := make([]export.Record, n)
	for i := range out {
		out[i] = export.Record{Seq: uint64(i + 1), Key: fmt.Sprintf("alert-%d", i+1), Data: []byte(fmt.Sprintf(`{"class_uid":2004,"n":%d}`, i+1))}
	}
	return out
}

var fast = export.Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

func run(t *testing.T, cfg Config, recs []export.Record) export.Stats {
	t.Helper()
	q, err := NewExporter(cfg, fast)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Export(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st := q.Stats()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSingleAndBatch(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprint("batch_", batch), func(t *testing.T) {
			rc := &receiver{t: t}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			st := run(t, Config{URL: srv.URL, Secret: secret, Batch: batch, Headers: map[string]string{"Authorization": "Bearer tok"}}, records(3))
			if st.Delivered != 3 || st.Position != 3 {
				t.Errorf("stats = %+v", st)
			}
			var got []string
			for _, b := range rc.bodies {
				if batch {
					var arr []json.RawMessage
					if err := json.Unmarshal([]byte(b), &arr); err != nil {
						t.Fatalf("batch body is not an array: %v", err)
					}
					for _, a := range arr {
						got = append(got, string(a))
					}
				} else {
					got = append(got, b)
				}
			}
			want := []string{`{"class_uid":2004,"n":1}`, `{"class_uid":2004,"n":2}`, `{"class_uid":2004,"n":3}`}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("records (-want +got):\n%s", d)
			}
			for _, h := range rc.hdrs {
				if h.Get("Authorization") != "Bearer tok" || h.Get("Content-Type") != "application/json" {
					t.Errorf("headers = %v", h)
				}
			}
			if !batch && !cmp.Equal(rc.keys, []string{"alert-1", "alert-2", "alert-3"}) {
				t.Errorf("idempotency keys = %v", rc.keys)
			}
		})
	}
}

func TestRetriesOn5xxNotOn4xx(t *testing.T) {
	rc := &receiver{t: t, status: func(n int) (int, http.Header) {
		switch n {
		case 0, 1:
			return http.StatusBadGateway, nil
		case 3:
			return http.StatusUnprocessableEntity, nil // record 2 refused for good
		case 4:
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"0"}}
		}
		return 0, nil
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	st := run(t, Config{URL: srv.URL, Secret: secret}, records(3))
	if st.Delivered != 2 || st.Rejected != 1 || st.Retries != 3 || st.Position != 3 {
		t.Errorf("stats = %+v", st)
	}
	if d := cmp.Diff([]string{"alert-1", "alert-3"}, rc.keys); d != "" {
		t.Errorf("accepted (-want +got):\n%s", d)
	}
}

func TestBatchRejectFallsBackToSingle(t *testing.T) {
	// The receiver refuses any body holding record 2.
	var mu sync.Mutex
	var accepted []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), `"n":2}`) {
			http.Error(w, "schema violation", http.StatusBadRequest)
			return
		}
		mu.Lock()
		accepted = append(accepted, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	st := run(t, Config{URL: srv.URL, Batch: true}, records(4))
	if st.Delivered != 3 || st.Rejected != 1 {
		t.Errorf("stats = %+v", st)
	}
	got := strings.Join(accepted, "|")
	for _, want := range []string{`"n":1}`, `"n":3}`, `"n":4}`} {
		if !strings.Contains(got, want) {
			t.Errorf("record %s not delivered; accepted %v", want, accepted)
		}
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		c := calls
		mu.Unlock()
		if c == 1 {
			select { // hang past the client's timeout
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
	}))
	defer srv.Close()
	defer close(release)
	st := run(t, Config{URL: srv.URL, Timeout: 100 * time.Millisecond}, records(1))
	if st.Delivered != 1 || st.Retries != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	rc := &receiver{t: t}
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	st := run(t, Config{URL: srv.URL, Secret: secret, CAFile: ca}, records(2))
	if st.Delivered != 2 || len(rc.bodies) != 2 {
		t.Errorf("stats = %+v, bodies %d", st, len(rc.bodies))
	}

	// Without the CA the server is not trusted: nothing is delivered and
	// the error says why.
	s, err := New(Config{URL: srv.URL, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := s.Send(context.Background(), records(1))
	if n != 0 || err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server: n=%d err=%v", n, err)
	}
}

func TestBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no_scheme":      {URL: "example.invalid/hook"},
		"ftp":            {URL: "ftp://127.0.0.1/x"},
		"bad_header":     {URL: "http://127.0.0.1/", Headers: map[string]string{"X Bad": "1"}},
		"missing_ca":     {URL: "https://127.0.0.1/", CAFile: "/nonexistent/ca.pem"},
		"ca_not_pem":     {URL: "https://127.0.0.1/", CAFile: "webhook.go"},
		"empty_hostname": {URL: "http:///path"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(cfg); err == nil {
				t.Error("want error")
			}
		})
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1795815005, 0)
	body := []byte(`{"a":1}`)
	h := Sign(secret, now, body)
	if err := Verify(secret, h, body, 5*time.Minute, now.Add(time.Minute)); err != nil {
		t.Errorf("valid signature: %v", err)
	}
	if err := Verify(secret, h, []byte(`{"a":2}`), 0, now); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered body: %v", err)
	}
	if err := Verify([]byte("other"), h, body, 0, now); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := Verify(secret, h, body, 5*time.Minute, now.Add(time.Hour)); !errors.Is(err, ErrStale) {
		t.Errorf("replayed: %v", err)
	}
	for _, bad := range []string{"", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"} {
		if err := Verify(secret, bad, body, 0, now); !errors.Is(err, ErrBadSignature) {
			t.Errorf("Verify(%q) = %v", bad, err)
		}
	}
	// The example in docs/exporters.md, whose MAC openssl computes too
	// (TestOpenSSLAgrees).
	if got := Sign([]byte("whsec_example"), time.Unix(1700000000, 0), []byte(`{"class_uid":2004}`)); got != docExample {
		t.Errorf("doc example signature = %s, want %s", got, docExample)
	}
}

const docExample = "t=1700000000,v1=a7e0caf17e5c491035df685c0b6e4bb32d3476c45e30db0e61fa8ff1b4d92cc7"

// TestOpenSSLAgrees checks the shell verification recipe of
// docs/exporters.md against Sign.
func TestOpenSSLAgrees(t *testing.T) {
	testutil.RequireCommand(t, "openssl")
	body := `{"class_uid":2004,"finding_info":{"uid":"x y"}}`
	ts := time.Unix(1795815005, 0)
	cmd := exec.Command("sh", "-c", `printf '%s' "$T.$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.*= //'`)
	cmd.Env = append(os.Environ(), "T=1795815005", "BODY="+body, "SECRET="+string(secret))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := Sign(secret, ts, []byte(body))
	if got := "t=1795815005,v1=" + strings.TrimSpace(string(out)); got != want {
		t.Errorf("openssl: %s, Sign: %s", got, want)
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-3":                            0,
		"soon":                          0,
		"Fri, 27 Nov 2026 12:00:30 GMT": 30 * time.Second,
		"Fri, 27 Nov 2026 11:00:00 GMT": 0,
	} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func BenchmarkWebhook(b *testing.B) {
	for _, batch := range []bool{false, true} {
		b.Run(fmt.Sprint("batch_", batch), func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if err := Verify(secret, r.Header.Get(SignatureHeader), body, time.Minute, time.Now()); err != nil {
					http.Error(w, err.Error(), http.StatusUnauthorized)
				}
			}))
			defer srv.Close()
			q, err := NewExporter(Config{URL: srv.URL, Secret: secret, Batch: batch}, export.Options{MaxBatch: 200})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			exporttest.Bench(b, q)
		})
	}
}
