package syslog

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/export"
	"github.com/vigilsec/vigil/internal/export/exporttest"
	"github.com/vigilsec/vigil/internal/severity"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collector is a loopback syslog collector: it accepts connections,
// parses every frame strictly and hands the messages over. closeAfter,
// when set, closes a connection after that many frames.
type collector struct {
	t          testing.TB
	ln         net.Listener
	msgs       chan parsed
	closeAfter int
	closed     chan struct{} // one value per connection closed by closeAfter
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      []net.Conn
}

func newCollector(t testing.TB, tlsCfg *tls.Config, closeAfter int) *collector {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	c := &collector{t: t, ln: ln, msgs: make(chan parsed, 100000), closed: make(chan struct{}, 10), closeAfter: closeAfter}
	c.wg.Add(1)
	go c.accept()
	t.Cleanup(c.stop)
	return c
}

func (c *collector) accept() {
	defer c.wg.Done()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		c.conns = append(c.conns, conn)
		c.mu.Unlock()
		c.wg.Add(1)
		go c.serve(conn)
	}
}

func (c *collector) serve(conn net.Conn) {
	defer c.wg.Done()
	defer conn.Close()
	r := bufio.NewReader(conn)
	for n := 0; ; n++ {
		if c.closeAfter > 0 && n == c.closeAfter {
			conn.Close()
			c.closed <- struct{}{}
			return
		}
		b, err := readFrame(r)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
			case n == 0:
				// A refused TLS handshake (TestTLS's untrusted client).
				c.t.Logf("collector: %v", err)
			default:
				c.t.Errorf("collector: %v", err)
			}
			return
		}
		m, err := parseMessage(b)
		if err != nil {
			c.t.Errorf("collector: parse %q: %v", b, err)
			return
		}
		c.msgs <- m
	}
}

func (c *collector) stop() {
	c.ln.Close()
	c.mu.Lock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *collector) take(t *testing.T, n int) []parsed {
	t.Helper()
	var out []parsed
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case m := <-c.msgs:
			out = append(out, m)
		case <-timeout:
			t.Fatalf("collector got %d of %d messages", len(out), n)
		}
	}
	return out
}

func records(from, to int) []export.Record {
	var out []export.Record
	for i := from; i <= to; i++ {
		out = append(out, export.Record{
			Seq: uint64(i), Key: fmt.Sprintf("alert-%d", i), Host: "web-1", Class: 2004,
			Severity: severity.High, Time: time.Date(2026, 11, 27, 21, 30, 5, 123456789, time.UTC),
			Data: []byte(fmt.Sprintf(`{"class_uid":2004,"message":"shell ] \"quoted\" %d"}`, i)),
		})
	}
	return out
}

var fast = export.Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

func flush(t *testing.T, q *export.Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func checkMessages(t *testing.T, got []parsed, from int) {
	t.Helper()
	for i, m := range got {
		n := from + i
		want := parsed{
			Pri: FacilityAuth*8 + SevError, Time: "2026-11-27T21:30:05.123456Z", Host: "web-1", App: "vigil",
			ProcID: strconv.Itoa(pidForTest()), MsgID: "2004",
			SD:  []Element{{ID: "vigil@32473", Params: []Param{{"key", fmt.Sprint("alert-", n)}, {"seq", fmt.Sprint(n)}, {"class_uid", "2004"}}}},
			Msg: fmt.Sprintf(`{"class_uid":2004,"message":"shell ] \"quoted\" %d"}`, n),
		}
		if d := cmp.Diff(want, m); d != "" {
			t.Errorf("message %d (-want +got):\n%s", n, d)
		}
		if !json.Valid([]byte(m.Msg)) {
			t.Errorf("MSG is not JSON: %q", m.Msg)
		}
	}
}

func TestTCP(t *testing.T) {
	c := newCollector(t, nil, 0)
	q, err := NewExporter(Config{Addr: c.ln.Addr().String()}, fast)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Export(context.Background(), records(1, 50)); err != nil {
		t.Fatal(err)
	}
	flush(t, q)
	checkMessages(t, c.take(t, 50), 1)
	if st := q.Stats(); st.Delivered != 50 || st.Position != 50 {
		t.Errorf("stats = %+v", st)
	}
}

func selfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "collector.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"collector.test"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool
}

func TestTLS(t *testing.T) {
	srvCfg, pool := selfSigned(t)
	c := newCollector(t, srvCfg, 0)
	q, err := NewExporter(Config{Addr: c.ln.Addr().String(), TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}, fast)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Export(context.Background(), records(1, 20)); err != nil {
		t.Fatal(err)
	}
	flush(t, q)
	checkMessages(t, c.take(t, 20), 1)

	// An untrusted collector certificate is an error, not a delivery.
	s, err := New(Config{Addr: c.ln.Addr().String(), TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Send(context.Background(), records(1, 1)); n != 0 || err == nil {
		t.Errorf("untrusted collector: n=%d err=%v", n, err)
	}
}

func TestReconnect(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprint("tls_", useTLS), func(t *testing.T) {
			var srvCfg, cliCfg *tls.Config
			if useTLS {
				var pool *x509.CertPool
				srvCfg, pool = selfSigned(t)
				cliCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			}
			c := newCollector(t, srvCfg, 6)
			s, err := New(Config{Addr: c.ln.Addr().String(), TLSConfig: cliCfg})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			for _, from := range []int{1, 4} {
				if n, err := s.Send(ctx, records(from, from+2)); n != 3 || err != nil {
					t.Fatalf("batch from %d: n=%d err=%v", from, n, err)
				}
				checkMessages(t, c.take(t, 3), from)
			}
			<-c.closed // the collector hung up after 6 frames
			if n, err := s.Send(ctx, records(7, 9)); n != 3 || err != nil {
				t.Fatalf("after hang-up: n=%d err=%v", n, err)
			}
			checkMessages(t, c.take(t, 3), 7)
			c.mu.Lock()
			conns := len(c.conns)
			c.mu.Unlock()
			if conns != 2 {
				t.Errorf("%d connections, want 2 (one reconnect, none while the first was alive)", conns)
			}
		})
	}
}

func TestCollectorDownThenUp(t *testing.T) {
	// Reserve a port, then free it: the first attempts are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := New(Config{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Send(context.Background(), records(1, 1)); n != 0 || err == nil || export.IsPermanent(err) {
		t.Fatalf("collector down: n=%d err=%v, want a retryable error", n, err)
	}
}

func TestNonUTF8Rejected(t *testing.T) {
	c := newCollector(t, nil, 0)
	q, err := NewExporter(Config{Addr: c.ln.Addr().String()}, fast)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	recs := records(1, 3)
	recs[1].Data = []byte("\xff\xfe")
	q.Export(context.Background(), recs)
	flush(t, q)
	got := c.take(t, 2)
	if got[0].SD[0].Params[0].Value != "alert-1" || got[1].SD[0].Params[0].Value != "alert-3" {
		t.Errorf("got %+v", got)
	}
	if st := q.Stats(); st.Rejected != 1 || st.Delivered != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no_port":  {Addr: "127.0.0.1"},
		"facility": {Addr: "127.0.0.1:601", Facility: 24},
		"pen":      {Addr: "127.0.0.1:601", EnterpriseID: "abc"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(cfg); err == nil {
				t.Error("want error")
			}
		})
	}
}

func TestSeverity(t *testing.T) {
	for l, want := range map[severity.Level]int{severity.Critical: 2, severity.High: 3, severity.Medium: 4, severity.Low: 5, severity.Info: 6, severity.Unspecified: 5} {
		if got := Severity(l); got != want {
			t.Errorf("Severity(%v) = %d, want %d", l, got, want)
		}
	}
}

func BenchmarkSyslog(b *testing.B) {
	for _, useTLS := range []bool{false, true} {
		b.Run(fmt.Sprint("tls_", useTLS), func(b *testing.B) {
			var srvCfg, cliCfg *tls.Config
			if useTLS {
				var pool *x509.CertPool
				srvCfg, pool = selfSigned(b)
				cliCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			}
			c := newCollector(b, srvCfg, 0)
			go func() { // drain: the collector parses every frame
				for range c.msgs {
				}
			}()
			defer close(c.msgs)
			defer c.stop()
			q, err := NewExporter(Config{Addr: c.ln.Addr().String(), TLSConfig: cliCfg}, export.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			exporttest.Bench(b, q)
		})
	}
}
