package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/pki"
)

// agent is one simulated agent: its own key, certificate and mTLS
// connection with the three streams a real agent keeps (heartbeat, upload,
// tasks), speaking the protocol as internal/agentlink does.
type agent struct {
	i        int
	hostname string
	hostID   string
	cert     tls.Certificate
	ca       *x509.Certificate
	conn     *grpc.ClientConn
	hb       vigilv1.Link_HeartbeatClient
	up       vigilv1.Link_UploadClient
	tasks    vigilv1.Link_TasksClient

	upMu     sync.Mutex // serialises Send on up
	seq      uint64
	inflight chan int // records per unacknowledged batch, in order
	recs     uint64   // record IDs made so far
	evDebt   float64  // events owed to the rate
	alDebt   float64

	lat []time.Duration // heartbeat round trips inside the window
}

// counters are fleet-wide.
type counters struct {
	eventsSent, alertsSent, invSent atomic.Uint64
	eventsAcked, alertsAcked        atomic.Uint64
	invAcked, rejected              atomic.Uint64
	beats, beatsLate                atomic.Uint64
	skipped                         atomic.Uint64 // flushes skipped: window full
	lost                            atomic.Int64  // agents whose link failed
	firstErr                        atomic.Value  // string
}

func (c *counters) fail(a *agent, what string, err error) {
	if c.lost.Add(1) == 1 {
		c.firstErr.Store(fmt.Sprintf("agent %d %s: %v", a.i, what, err))
	}
}

// sourceAddr spreads agents over 127.0.0.2–127.0.0.251 so ephemeral ports
// never run out.
func sourceAddr(i int) *net.TCPAddr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%250))}
}

func dialer(i int) func(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: sourceAddr(i)}
	return func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
}

// enrol does what agentlink.Client.Enrol does: a new P-256 key and CSR,
// the server's chain checked against the token's CA pin, then the
// certificate checked against the key.
func (a *agent) enrol(ctx context.Context, addr, token string) error {
	tok, err := pki.ParseEnrolToken(token)
	if err != nil {
		return err
	}
	key, err := pki.NewKey()
	if err != nil {
		return err
	}
	csr, err := pki.NewCSR(key, a.hostname)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // checked against the pin in VerifyConnection
		VerifyConnection:   func(cs tls.ConnectionState) error { return pki.VerifyPinned(cs, host, tok.CAPin) },
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)), grpc.WithContextDialer(dialer(a.i)))
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := vigilv1.NewLinkClient(conn).Enrol(ctx, &vigilv1.EnrolRequest{
		Secret: tok.Secret, Hostname: a.hostname, Os: "linux", AgentVersion: "fleet-bench", CsrDer: csr,
	})
	if err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	cert, err := x509.ParseCertificate(resp.GetCertDer())
	if err != nil {
		return fmt.Errorf("enrol: bad certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(resp.GetCaDer())
	if err != nil || pki.Fingerprint(ca.Raw) != tok.CAPin {
		return errors.New("enrol: server sent a CA other than the token's")
	}
	if pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.Public()) {
		return errors.New("enrol: certificate is not for the agent's key")
	}
	a.hostID, a.ca = resp.GetHostId(), ca
	a.cert = tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	return nil
}

// connect opens the mTLS connection and the three streams, as a real
// agent's session does.
func (a *agent) connect(ctx context.Context, addr string, window int) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(a.ca)
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: host, Certificates: []tls.Certificate{a.cert}}
	a.conn, err = grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithContextDialer(dialer(a.i)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second}),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)),
		// Smaller client buffers than the defaults (32 KiB each) so one
		// process can hold 10k agents; the server keeps its defaults.
		grpc.WithReadBufferSize(8<<10), grpc.WithWriteBufferSize(8<<10),
	)
	if err != nil {
		return err
	}
	cli := vigilv1.NewLinkClient(a.conn)
	if a.hb, err = cli.Heartbeat(ctx); err != nil {
		return fmt.Errorf("heartbeat stream: %w", err)
	}
	if a.up, err = cli.Upload(ctx); err != nil {
		return fmt.Errorf("upload stream: %w", err)
	}
	if a.tasks, err = cli.Tasks(ctx); err != nil {
		return fmt.Errorf("tasks stream: %w", err)
	}
	a.inflight = make(chan int, window)
	return nil
}

// beat sends one heartbeat and waits for its ack.
func (a *agent) beat() (time.Duration, error) {
	start := time.Now()
	err := a.hb.Send(&vigilv1.HeartbeatRequest{
		AgentVersion: "fleet-bench", SensorMode: "ebpf", Drops: map[string]uint64{"exec": 0},
		RssBytes: 48 << 20, CpuMillis: uint64(a.i), TimeUnixNano: start.UnixNano(), Os: "linux", Hostname: a.hostname,
	})
	if err != nil {
		return 0, err
	}
	if _, err := a.hb.Recv(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// send sends one batch; it blocks while window batches await their ack.
func (a *agent) send(recs []*vigilv1.Record) error {
	a.inflight <- len(recs)
	a.upMu.Lock()
	defer a.upMu.Unlock()
	a.seq++
	return a.up.Send(&vigilv1.UploadBatch{Seq: a.seq, Records: recs})
}

// trySend is send that gives up when the window is full.
func (a *agent) trySend(recs []*vigilv1.Record) (bool, error) {
	select {
	case a.inflight <- len(recs):
	default:
		return false, nil
	}
	a.upMu.Lock()
	defer a.upMu.Unlock()
	a.seq++
	return true, a.up.Send(&vigilv1.UploadBatch{Seq: a.seq, Records: recs})
}

// acks receives upload acks until the stream ends, calling f per ack with
// the number of records the batch held.
func (a *agent) acks(f func(ack *vigilv1.UploadAck, n int)) error {
	for {
		ack, err := a.up.Recv()
		if err != nil {
			return err
		}
		var n int
		select {
		case n = <-a.inflight:
		default:
			return fmt.Errorf("ack %d for no batch in flight", ack.GetSeq())
		}
		f(ack, n)
	}
}

// drainTasks answers nothing: the fleet has no tasks; the stream only
// keeps the server's per-host task polling going, as a real agent does.
func (a *agent) drainTasks() error {
	for {
		d, err := a.tasks.Recv()
		if err != nil {
			return err
		}
		if err := a.tasks.Send(&vigilv1.TaskResult{RunId: d.GetRunId(), TaskId: d.GetTaskId(), Ok: false,
			Output: []byte(`{"error":"fleet bench runs no tasks"}`)}); err != nil {
			return err
		}
	}
}

// Record makers.

var eventData = []byte(`{"process":{"pid":4242,"exe":"/usr/bin/curl","args":["curl","-s","https://example.com/x.sh"],"uid":1000,"cwd":"/home/dev"},"parent":{"pid":4200,"exe":"/bin/bash"},"exec_id":"3f2a:1700000000:4242"}`)

func (a *agent) event(now time.Time) *vigilv1.Record {
	a.recs++
	return &vigilv1.Record{Kind: vigilv1.RecordKind_RECORD_KIND_EVENT, Id: fmt.Sprintf("%s-ev-%d", a.hostID, a.recs),
		TimeUnixNano: now.UnixNano(), EventKind: "exec", Data: eventData}
}

func (a *agent) alert(now time.Time) *vigilv1.Record {
	a.recs++
	id := fmt.Sprintf("%s-al-%d", a.hostID, a.recs)
	data := fmt.Appendf(nil, `{"id":%q,"time":%q,"host":%q,"rule":{"id":"persistence.cron","version":1,"title":"Cron job written"},"severity":"high",`+
		`"attack":{"tactics":["TA0003"],"techniques":["T1053.003"]},"process":{"pid":4242,"exe":"/usr/bin/crontab"},`+
		`"evidence":{"path":"/etc/cron.d/fleet"},"response":{}}`, id, now.UTC().Format(time.RFC3339Nano), a.hostname)
	return &vigilv1.Record{Kind: vigilv1.RecordKind_RECORD_KIND_ALERT, Id: id, TimeUnixNano: now.UnixNano(), Data: data}
}

// hostnamePlaceholder stands for the hostname in the marshalled snapshot.
const hostnamePlaceholder = "fleet-bench-hostname-placeholder"

func (a *agent) inventory(tmpl []byte) *vigilv1.Record {
	return &vigilv1.Record{Kind: vigilv1.RecordKind_RECORD_KIND_INVENTORY, TimeUnixNano: time.Now().UnixNano(),
		Data: bytes.ReplaceAll(tmpl, []byte(hostnamePlaceholder), []byte(a.hostname))}
}
