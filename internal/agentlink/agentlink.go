// Package agentlink is the agent end of the agent link: it enrols with
// `vigil server`, then keeps one mTLS gRPC connection over which it sends
// heartbeats and batches of spooled records and receives signed tasks.
//
// Guarantees:
//
//   - SendAlert, SendEvent and SendInventory only append to the on-disk
//     spool (internal/spool): they never wait for the network. When the
//     spool is full the record is dropped, counted, and reported in the
//     heartbeat (spool_drops).
//   - Delivery is at-least-once and in spool order: records are sent in
//     batches in order and removed from the spool only when the server
//     acknowledges a batch after committing it; after a lost connection or
//     a restart (even kill -9) every unacknowledged record is sent again.
//     The server's ingest is idempotent by record ID, so each alert and
//     event is stored exactly once.
//   - Trust: enrolment verifies the server's certificate chain against the
//     CA fingerprint in the token before the secret is sent. Afterwards
//     the agent trusts only that CA and presents its client certificate.
//     The private key (ECDSA P-256) never leaves the data directory
//     (agent.key, mode 0600).
//   - Reconnects back off exponentially with full jitter between MinBackoff
//     and MaxBackoff. Run returns an error wrapping ErrRejected when the
//     server refuses the agent's certificate (revoked, expired, unknown):
//     retrying cannot help; the agent needs a new enrolment.
//   - Enrolment happens once: with a certificate in DataDir the token is
//     not used. The key is created on the first attempt and kept, so a
//     retried enrolment sends the same key; each successful enrolment gives
//     a new host ID (see internal/server/link).
//   - Tasks are handed to the TaskRunner as opaque payload and signature;
//     results are sent back, and kept in memory to be sent again if the
//     connection drops before they are sent.
package agentlink

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/pki"
	"github.com/vigilsec/vigil/internal/spool"
	"github.com/vigilsec/vigil/internal/version"
)

// TaskRunner verifies and runs a task the server sent (internal/task
// implements it). It returns the run's JSON output; an error fails the run.
type TaskRunner interface {
	RunTask(ctx context.Context, payload, sig []byte) (output json.RawMessage, err error)
}

// HeartbeatInfo is what the agent reports about itself in each heartbeat;
// the link adds the spool's drops and depth. Zero RSS and CPU are filled
// from the process's own figures.
type HeartbeatInfo struct {
	AgentVersion string
	SensorMode   string
	Drops        map[string]uint64 // events dropped per source since start
	RSSBytes     uint64
	CPU          time.Duration
}

// Errors callers branch on.
var (
	// ErrNotEnrolled: the data directory holds no certificate and no
	// enrolment token was given.
	ErrNotEnrolled = errors.New("agent is not enrolled: an enrolment token is needed")
	// ErrRejected: the server refused the agent (token used or unknown,
	// certificate revoked, expired or replaced). Retrying cannot help.
	ErrRejected = errors.New("server refused the agent")
)

// Files in the data directory.
const (
	KeyFile      = "agent.key"
	CertFile     = "agent.crt"
	CAFile       = "ca.crt"
	TaskKeyFile  = "task.pub"
	StateFile    = "link.json"
	SpoolDirName = "spool"
)

// Options configure a Client.
type Options struct {
	// DataDir holds the key, certificates and spool (created 0700).
	DataDir string
	// Server is the server's link address, host:port.
	Server string
	// EnrolToken is used when DataDir holds no certificate yet.
	EnrolToken string
	// SpoolBytes caps the spool (default spool.DefaultMaxBytes).
	SpoolBytes int64
	// SpoolSegmentBytes is the spool's segment size (default
	// spool.DefaultSegmentBytes).
	SpoolSegmentBytes int64
	Runner            TaskRunner
	// Heartbeat supplies the agent's figures; nil reports only the link's.
	Heartbeat func() HeartbeatInfo
	Logger    *slog.Logger
	// Hostname and OS are sent at enrolment and in heartbeats (default
	// os.Hostname and runtime.GOOS).
	Hostname string
	OS       string
	// HeartbeatInterval overrides the interval the server gave at
	// enrolment.
	HeartbeatInterval time.Duration
	// MinBackoff and MaxBackoff bound reconnect delays (default 1 s, 60 s).
	MinBackoff, MaxBackoff time.Duration
	// BatchRecords and BatchBytes bound one upload batch (default 1000
	// records, 1 MiB); Window is how many batches may await their ack
	// (default 4).
	BatchRecords, BatchBytes, Window int
	// TaskConcurrency bounds tasks running at once (default 2).
	TaskConcurrency int
}

// state is link.json.
type state struct {
	HostID           string `json:"host_id"`
	HeartbeatSeconds uint32 `json:"heartbeat_seconds"`
}

// Client is the agent's link. Create it with New; call Run.
type Client struct {
	o     Options
	log   *slog.Logger
	spool *spool.Spool

	mu       sync.Mutex
	st       state
	cert     *tls.Certificate
	ca       *x509.Certificate
	taskKey  ed25519.PublicKey
	results  []*vigilv1.TaskResult // finished, not yet sent
	resultCh chan struct{}
	conn     bool
	acked    uint64
	taskSem  chan struct{}
	runCtx   context.Context
	policy   *Policy
}

// New opens the spool and loads the identity, if the agent has enrolled.
func New(o Options) (*Client, error) {
	if o.DataDir == "" || o.Server == "" {
		return nil, errors.New("agentlink: DataDir and Server are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.OS == "" {
		o.OS = runtime.GOOS
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(o.MinBackoff, time.Minute)
	}
	if o.BatchRecords <= 0 {
		o.BatchRecords = 1000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	if o.Window <= 0 {
		o.Window = 4
	}
	if o.TaskConcurrency <= 0 {
		o.TaskConcurrency = 2
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("agentlink: %w", err)
	}
	sp, err := spool.Open(filepath.Join(o.DataDir, SpoolDirName), spool.Options{MaxBytes: o.SpoolBytes, SegmentBytes: o.SpoolSegmentBytes})
	if err != nil {
		return nil, fmt.Errorf("agentlink: %w", err)
	}
	c := &Client{o: o, log: o.Logger, spool: sp, resultCh: make(chan struct{}, 1),
		taskSem: make(chan struct{}, o.TaskConcurrency), runCtx: context.Background()}
	if err := c.loadIdentity(); err != nil && !errors.Is(err, ErrNotEnrolled) {
		sp.Close()
		return nil, err
	}
	if c.policy, err = loadPolicy(o.DataDir); err != nil {
		// The server sends it again: the agent asks with no version.
		c.log.Warn("saved policy unreadable; waiting for the server's", "err", err)
	}
	return c, nil
}

// Close closes the spool. Call it after Run has returned.
func (c *Client) Close() error { return c.spool.Close() }

// HostID is the ID the server assigned ("" before enrolment).
func (c *Client) HostID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.HostID
}

// TaskPublicKey is the server's task-signing key from enrolment (nil
// before enrolment or when the server signs no tasks).
func (c *Client) TaskPublicKey() ed25519.PublicKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.taskKey
}

// Stats are the link's counters.
type Stats struct {
	Connected    bool
	SpoolPending int64
	SpoolDropped uint64
	SpoolBytes   int64
	Acked        uint64 // records acknowledged by the server since New
}

// Stats returns the link's counters.
func (c *Client) Stats() Stats {
	st := c.spool.Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Connected: c.conn, SpoolPending: st.Pending, SpoolDropped: st.Dropped, SpoolBytes: st.Bytes, Acked: c.acked}
}

// SendAlert spools an alert. An error (wrapping spool.ErrFull when full)
// means it was dropped and counted.
func (c *Client) SendAlert(a *alert.Alert) error {
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("spool alert: %w", err)
	}
	return c.append(&vigilv1.Record{Kind: vigilv1.RecordKind_RECORD_KIND_ALERT, Id: a.ID, TimeUnixNano: unixNano(a.Time), Data: data})
}

// SendEvent spools an event; id must be unique on this host.
func (c *Client) SendEvent(id string, t time.Time, kind string, data json.RawMessage) error {
	return c.append(&vigilv1.Record{Kind: vigilv1.RecordKind_RECORD_KIND_EVENT, Id: id, TimeUnixNano: unixNano(t), EventKind: kind, Data: data})
}

// SendInventory spools an inventory snapshot taken now.
func (c *Client) SendInventory(data json.RawMessage) error {
	return c.append(&vigilv1.Record{Kind: vigilv1.RecordKind_RECORD_KIND_INVENTORY, TimeUnixNano: time.Now().UnixNano(), Data: data})
}

// agentVersion is this build's version.
func agentVersion() string {
	if v := version.Get().Version; v != "" {
		return v
	}
	return "devel"
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (c *Client) append(r *vigilv1.Record) error {
	b, err := proto.Marshal(r)
	if err != nil {
		return fmt.Errorf("spool record: %w", err)
	}
	return c.spool.Append(b)
}

// loadIdentity reads the certificate, key, CA and state from DataDir.
func (c *Client) loadIdentity() error {
	d := c.o.DataDir
	certPEM, err := os.ReadFile(filepath.Join(d, CertFile))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotEnrolled
	}
	if err != nil {
		return fmt.Errorf("agentlink: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(d, KeyFile))
	if err != nil {
		return fmt.Errorf("agentlink: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("agentlink: %s: %w", CertFile, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(d, CAFile))
	if err != nil {
		return fmt.Errorf("agentlink: %w", err)
	}
	ca, err := pki.ParseCertPEM(caPEM)
	if err != nil {
		return fmt.Errorf("agentlink: %s: %w", CAFile, err)
	}
	var st state
	b, err := os.ReadFile(filepath.Join(d, StateFile))
	if err != nil {
		return fmt.Errorf("agentlink: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil || st.HostID == "" {
		return fmt.Errorf("agentlink: %s: bad state %q", StateFile, b)
	}
	var tk ed25519.PublicKey
	if b, err := os.ReadFile(filepath.Join(d, TaskKeyFile)); err == nil && len(b) == ed25519.PublicKeySize {
		tk = b
	}
	c.mu.Lock()
	c.cert, c.ca, c.st, c.taskKey = &cert, ca, st, tk
	c.mu.Unlock()
	return nil
}

func (c *Client) enrolled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert != nil
}

// loadOrCreateKey returns the agent key, creating agent.key (0600).
func (c *Client) loadOrCreateKey() (crypto.Signer, error) {
	p := filepath.Join(c.o.DataDir, KeyFile)
	if b, err := os.ReadFile(p); err == nil {
		return pki.ParseKeyPEM(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	b, err := pki.KeyPEM(k)
	if err != nil {
		return nil, err
	}
	if err := pki.WriteFileAtomic(p, b, 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

// Enrol enrols with the server using Options.EnrolToken and stores the
// identity in DataDir. Run calls it when needed.
func (c *Client) Enrol(ctx context.Context) error {
	if c.o.EnrolToken == "" {
		return ErrNotEnrolled
	}
	tok, err := pki.ParseEnrolToken(c.o.EnrolToken)
	if err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	key, err := c.loadOrCreateKey()
	if err != nil {
		return fmt.Errorf("enrol: key: %w", err)
	}
	csr, err := pki.NewCSR(key, c.o.Hostname)
	if err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	host, _, err := net.SplitHostPort(c.o.Server)
	if err != nil {
		return fmt.Errorf("enrol: server address %q: %w", c.o.Server, err)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The chain is checked against the pinned CA in VerifyConnection.
		InsecureSkipVerify: true,
		VerifyConnection:   func(cs tls.ConnectionState) error { return pki.VerifyPinned(cs, host, tok.CAPin) },
	}
	conn, err := grpc.NewClient(c.o.Server, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	defer conn.Close()
	resp, err := vigilv1.NewLinkClient(conn).Enrol(ctx, &vigilv1.EnrolRequest{
		Secret: tok.Secret, Hostname: c.o.Hostname, Os: c.o.OS, AgentVersion: agentVersion(), CsrDer: csr,
	})
	if err != nil {
		if refused(err) || status.Code(err) == codes.InvalidArgument {
			return fmt.Errorf("enrol: %w: %v", ErrRejected, status.Convert(err).Message())
		}
		return fmt.Errorf("enrol: %w", err)
	}
	cert, err := x509.ParseCertificate(resp.GetCertDer())
	if err != nil {
		return fmt.Errorf("enrol: server sent a bad certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(resp.GetCaDer())
	if err != nil || pki.Fingerprint(ca.Raw) != tok.CAPin {
		return errors.New("enrol: server sent a CA certificate other than the token's")
	}
	if id, err := pki.HostID(cert); err != nil || id != resp.GetHostId() {
		return fmt.Errorf("enrol: certificate does not name host %q", resp.GetHostId())
	}
	if pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.Public()) {
		return errors.New("enrol: certificate is not for the agent's key")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: poolOf(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("enrol: certificate: %w", err)
	}
	d := c.o.DataDir
	if k := resp.GetTaskPublicKey(); len(k) > 0 {
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("enrol: task public key has %d bytes", len(k))
		}
		if err := pki.WriteFileAtomic(filepath.Join(d, TaskKeyFile), k, 0o644); err != nil {
			return fmt.Errorf("enrol: %w", err)
		}
	}
	if err := pki.WriteFileAtomic(filepath.Join(d, CAFile), pki.CertPEM(ca), 0o644); err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	st, _ := json.Marshal(state{HostID: resp.GetHostId(), HeartbeatSeconds: resp.GetHeartbeatSeconds()})
	if err := pki.WriteFileAtomic(filepath.Join(d, StateFile), st, 0o644); err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	// The certificate last: its presence means "enrolled".
	if err := pki.WriteFileAtomic(filepath.Join(d, CertFile), pki.CertPEM(cert), 0o644); err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	c.log.Info("enrolled", "host", resp.GetHostId(), "server", c.o.Server)
	return c.loadIdentity()
}

func poolOf(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

// refused reports whether the server refused the agent's credentials.
func refused(err error) bool {
	c := status.Code(err)
	return c == codes.PermissionDenied || c == codes.Unauthenticated
}

// Run enrols if needed, then keeps the link up until ctx ends (returning
// nil) or the server refuses the agent (an error wrapping ErrRejected).
func (c *Client) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.runCtx = ctx
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := c.spool.Sync(); err != nil && !errors.Is(err, spool.ErrClosed) {
					c.log.Error("spool sync", "err", err)
				}
			}
		}
	}()
	defer func() { cancel(); <-syncDone }()

	backoff := c.o.MinBackoff
	for attempt := 0; ; attempt++ {
		var err error
		start := time.Now()
		if !c.enrolled() {
			err = c.Enrol(ctx)
			if errors.Is(err, ErrNotEnrolled) {
				return err
			}
		}
		if err == nil {
			err = c.session(ctx)
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrRejected) || refused(err) {
			return fmt.Errorf("%w: %v", ErrRejected, err)
		}
		if time.Since(start) > c.o.MaxBackoff {
			backoff = c.o.MinBackoff
		}
		// Full jitter: sleep uniformly in [0, backoff].
		d := time.Duration(rand.Int64N(int64(backoff) + 1))
		c.log.Warn("link down; reconnecting", "err", err, "in", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
		backoff = min(2*backoff, c.o.MaxBackoff)
	}
}

// session runs one connection until a stream fails.
func (c *Client) session(ctx context.Context) error {
	c.mu.Lock()
	cert, ca, st := c.cert, c.ca, c.st
	c.mu.Unlock()
	host, _, err := net.SplitHostPort(c.o.Server)
	if err != nil {
		return fmt.Errorf("server address %q: %w", c.o.Server, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		RootCAs:      poolOf(ca),
		ServerName:   host,
		Certificates: []tls.Certificate{*cert},
	}
	conn, err := grpc.NewClient(c.o.Server,
		grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second}),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)),
	)
	if err != nil {
		return err
	}
	defer conn.Close()
	cli := vigilv1.NewLinkClient(conn)
	interval := c.o.HeartbeatInterval
	if interval <= 0 {
		interval = time.Duration(max(st.HeartbeatSeconds, 1)) * time.Second
		if st.HeartbeatSeconds == 0 {
			interval = 30 * time.Second
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context, vigilv1.LinkClient) error) {
		wg.Go(func() {
			if err := f(ctx, cli); err != nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		})
	}
	run("heartbeat", func(ctx context.Context, cli vigilv1.LinkClient) error { return c.heartbeat(ctx, cli, interval) })
	run("upload", c.upload)
	run("tasks", c.tasks)
	<-ctx.Done()
	wg.Wait()
	c.mu.Lock()
	c.conn = false
	c.mu.Unlock()
	// The first stream to fail gave the cause; Run checks its own context
	// first, so a plain cancellation is not reported.
	return context.Cause(ctx)
}
