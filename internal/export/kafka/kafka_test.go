package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/export"
	"github.com/vigilsec/vigil/internal/export/exporttest"
	"github.com/vigilsec/vigil/internal/severity"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const topic = "vigil-ocsf"

func cluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func records(n int) []export.Record {
	out := make([]export.Record, n)
	for i := range out {
		out[i] = export.Record{
			Seq: uint64(i + 1), Key: fmt.Sprintf("alert-%d", i+1), Host: fmt.Sprintf("host-%d", i%3),
			Class: 2004, Severity: severity.High, Time: time.Date(2026, 11, 27, 21, 0, i, 0, time.UTC),
			Data: []byte(fmt.Sprintf(`{"class_uid":2004,"n":%d}`, i+1)),
		}
	}
	return out
}

// consume reads n records back from the topic.
func consume(t *testing.T, addrs []string, n int, extra ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), n, err)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Errorf("fetch %s/%d: %v", tp, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

type got struct{ Key, Value, IdemKey, Class, Seq string }

func check(t *testing.T, rs []*kgo.Record, want []export.Record, keyOf func(export.Record) string) {
	t.Helper()
	var g, w []got
	perKey := map[string][]string{}
	for _, r := range rs {
		g = append(g, got{string(r.Key), string(r.Value), header(r, HeaderKey), header(r, HeaderClass), header(r, HeaderSeq)})
		perKey[string(r.Key)] = append(perKey[string(r.Key)], header(r, HeaderSeq))
	}
	for _, r := range want {
		w = append(w, got{keyOf(r), string(r.Data), r.Key, "2004", fmt.Sprint(r.Seq)})
	}
	sortGot := func(s []got) { sort.Slice(s, func(i, j int) bool { return s[i].IdemKey < s[j].IdemKey }) }
	sortGot(g)
	sortGot(w)
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("consumed (-want +got):\n%s", d)
	}
	// One key lands on one partition, in order.
	for k, seqs := range perKey {
		if !sort.SliceIsSorted(seqs, func(i, j int) bool {
			return len(seqs[i]) < len(seqs[j]) || (len(seqs[i]) == len(seqs[j]) && seqs[i] < seqs[j])
		}) {
			t.Errorf("key %s out of order: %v", k, seqs)
		}
	}
}

func run(t *testing.T, cfg Config, recs []export.Record) (*export.Queue, export.Stats) {
	t.Helper()
	q, err := NewExporter(cfg, export.Options{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if err := q.Export(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return q, q.Stats()
}

func TestProduceKeyByHost(t *testing.T) {
	c := cluster(t)
	recs := records(30)
	_, st := run(t, Config{Brokers: c.ListenAddrs(), Topic: topic}, recs)
	if st.Delivered != 30 || st.Position != 30 {
		t.Errorf("stats = %+v", st)
	}
	check(t, consume(t, c.ListenAddrs(), 30), recs, func(r export.Record) string { return r.Host })
}

func TestProduceKeyByID(t *testing.T) {
	c := cluster(t)
	recs := records(10)
	recs[0].Host = ""
	run(t, Config{Brokers: c.ListenAddrs(), Topic: topic, KeyBy: KeyID}, recs)
	check(t, consume(t, c.ListenAddrs(), 10), recs, func(r export.Record) string { return r.Key })
}

func TestIdempotentProducer(t *testing.T) {
	c := cluster(t)
	s, err := New(Config{Brokers: c.ListenAddrs(), Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Send(context.Background(), records(2)); n != 2 || err != nil {
		t.Fatalf("Send: n=%d err=%v", n, err)
	}
	id, _, err := s.cl.ProducerID(context.Background())
	if err != nil || id < 0 {
		t.Errorf("producer id = %d, %v: idempotence is off", id, err)
	}
}

func TestTooLargeRejected(t *testing.T) {
	c := cluster(t)
	recs := records(3)
	recs[1].Data = []byte(`{"pad":"` + strings.Repeat("x", 4096) + `"}`)
	_, st := run(t, Config{Brokers: c.ListenAddrs(), Topic: topic, ExtraOpts: []kgo.Opt{kgo.ProducerBatchMaxBytes(2048)}}, recs)
	if st.Delivered != 2 || st.Rejected != 1 || st.Position != 3 {
		t.Errorf("stats = %+v", st)
	}
	check(t, consume(t, c.ListenAddrs(), 2), []export.Record{recs[0], recs[2]}, func(r export.Record) string { return r.Host })
}

func selfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kafka.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool
}

func TestSASLOverTLS(t *testing.T) {
	for _, mech := range []string{SASLPlain, SASLScramSHA256, SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			srvTLS, pool := selfSigned(t)
			c := cluster(t, kfake.TLS(srvTLS), kfake.EnableSASL(), kfake.Superuser(mech, "vigil", "s3cret"))
			cliTLS := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			cfg := Config{Brokers: c.ListenAddrs(), Topic: topic, TLSConfig: cliTLS, SASLMechanism: mech, SASLUser: "vigil", SASLPassword: "s3cret"}
			recs := records(5)
			run(t, cfg, recs)
			m, err := mechanism(cfg)
			if err != nil {
				t.Fatal(err)
			}
			check(t, consume(t, c.ListenAddrs(), 5, kgo.DialTLSConfig(cliTLS), kgo.SASL(m)), recs, func(r export.Record) string { return r.Host })

			// A wrong password is not delivered.
			bad := cfg
			bad.SASLPassword = "wrong"
			bad.DeliveryTimeout = 2 * time.Second
			s, err := New(bad)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if n, err := s.Send(ctx, records(1)); n != 0 || err == nil {
				t.Errorf("wrong password: n=%d err=%v", n, err)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no_brokers": {Topic: topic},
		"no_topic":   {Brokers: []string{"127.0.0.1:9092"}},
		"bad_topic":  {Brokers: []string{"127.0.0.1:9092"}, Topic: "a b"},
		"bad_key":    {Brokers: []string{"127.0.0.1:9092"}, Topic: topic, KeyBy: "rule"},
		"bad_sasl":   {Brokers: []string{"127.0.0.1:9092"}, Topic: topic, SASLMechanism: "GSSAPI", SASLUser: "u"},
		"no_user":    {Brokers: []string{"127.0.0.1:9092"}, Topic: topic, SASLMechanism: SASLPlain},
	} {
		t.Run(name, func(t *testing.T) {
			if s, err := New(cfg); err == nil {
				s.Close()
				t.Error("want error")
			}
		})
	}
}

func BenchmarkKafka(b *testing.B) {
	c := cluster(b)
	q, err := NewExporter(Config{Brokers: c.ListenAddrs(), Topic: topic}, export.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	exporttest.Bench(b, q)
}
