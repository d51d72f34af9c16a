// Package link is the server end of the agent link: the gRPC service of
// api/vigil/v1 over TLS, backed by a store.Store.
//
// Guarantees:
//
//   - Enrolment: Enrol needs no client certificate; the agent has already
//     pinned the CA from its token. It consumes the one-time token
//     (store.ConsumeEnrolToken), assigns a new random host ID, issues a
//     client certificate for the agent's CSR and records the host with the
//     certificate's serial and fingerprint. Every enrolment makes a new
//     host, even with the same key: a re-installed agent is a new host
//     and the old one can be revoked.
//   - Authentication: every other call needs a client certificate issued
//     by the CA, valid now, for client authentication (else
//     Unauthenticated), naming a known host that is not revoked and whose
//     recorded fingerprint is this certificate's (else PermissionDenied).
//     This is checked on every stream open. The listener requests but does
//     not require a certificate at the TLS layer, so Enrol shares the port
//     and refusals carry a gRPC status the agent can act on; the TLS
//     handshake still proves the client holds the certificate's key.
//   - Ingest: each UploadBatch is stored (alerts and events idempotent by
//     ID, inventory deduplicated by content) before its UploadAck is sent,
//     and acks go out in batch order. With the agent's spool this gives
//     at-least-once delivery and, through idempotent ingest, exactly-once
//     storage. A record the store refuses as invalid is reported in the
//     ack and not retried; any other store error ends the stream unacked,
//     and the agent sends the batch again.
//   - Tasks: pending runs are dispatched at most once: a run is marked
//     dispatched in the store before it is sent, and a run whose signing
//     fails is marked failed. Results are accepted only from the run's host.
package link

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/pki"
	"github.com/vigilsec/vigil/internal/server/store"
)

// TaskSigner turns a pending run into the opaque payload and signature the
// agent's task runner verifies (internal/task implements it).
type TaskSigner interface {
	SignRun(ctx context.Context, t store.Task, r store.TaskRun) (payload, sig []byte, err error)
}

// Defaults.
const (
	DefaultHeartbeatInterval = 30 * time.Second
	DefaultTaskPollInterval  = 5 * time.Second
	// maxBatchRecords bounds one UploadBatch.
	maxBatchRecords = 10000
	maxMessageBytes = 64 << 20
)

// Options configure a Server.
type Options struct {
	Store store.Store
	CA    *pki.CA
	// TaskSigner signs runs; nil dispatches no tasks.
	TaskSigner TaskSigner
	// TaskPublicKey is given to agents at enrolment to verify tasks.
	TaskPublicKey ed25519.PublicKey
	Logger        *slog.Logger
	// ServerNames are the DNS names and IPs in the server certificate
	// (default: localhost, 127.0.0.1, ::1 and the host name).
	ServerNames []string
	// ClientCertValidity is how long agent certificates are valid
	// (default one year).
	ClientCertValidity time.Duration
	// HeartbeatInterval is what agents are told to use (default 30 s); a
	// host is online when its last heartbeat is within three intervals.
	HeartbeatInterval time.Duration
	// TaskPollInterval is how often the fleet's pending runs are looked
	// up, for runs added without KickTasks, and revoked hosts, whose live
	// streams end at their next heartbeat or upload (default 5 s).
	TaskPollInterval time.Duration
	// Committers is how many group transactions may run at once (default
	// 1, right for SQLite's single writer; PostgreSQL gains from a few).
	Committers int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnInventory, when set, is called after a new inventory snapshot
	// of the host is stored (not for one identical to the latest). It
	// must not block.
	OnInventory func(hostID string)
	// OnAlerts, when set, is called with a batch's alerts once they are
	// stored (a redelivered batch calls it again: receivers dedupe by
	// alert ID). It must not block.
	OnAlerts func(hostID string, alerts []alert.Alert)
	// Policy, when set, returns what the host's agent must apply itself
	// (the allow-list); a heartbeat's ack carries it when the agent's
	// version differs.
	Policy func(ctx context.Context, hostID string) (*vigilv1.Policy, error)
}

// Stats are the link's counters for /metrics.
type Stats struct {
	// New records stored since the server started (duplicates from
	// redelivery not counted).
	Alerts, Events, Inventories uint64
	// Upload batches stored, and the transactions they took (group
	// commit puts many batches in one).
	Batches, Commits uint64
	// Sums over the hosts' latest heartbeats.
	AgentDrops, SpoolDrops uint64
	// Hosts whose heartbeat arrived within three intervals.
	Online int
}

// Stats returns the link's counters.
func (s *Server) Stats() Stats {
	st := Stats{Alerts: s.nAlerts.Load(), Events: s.nEvents.Load(), Inventories: s.nInv.Load(),
		Batches: s.nBatches.Load(), Commits: s.nCommits.Load()}
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.beats {
		for _, n := range h.Drops {
			st.AgentDrops += n
		}
		st.SpoolDrops += h.SpoolDrops
		if now.Sub(h.Received) <= 3*s.o.HeartbeatInterval {
			st.Online++
		}
	}
	return st
}

// HeartbeatInfo is a host's latest heartbeat.
type HeartbeatInfo struct {
	AgentVersion string
	SensorMode   string
	Drops        map[string]uint64 // per source, since the agent started
	SpoolDrops   uint64
	QueueDepth   uint64
	RSSBytes     uint64
	CPU          time.Duration // agent CPU time since it started
	AgentTime    time.Time
	Received     time.Time
}

// Server serves the link. Create it with NewServer.
type Server struct {
	o       Options
	log     *slog.Logger
	tlsCert tls.Certificate
	grpc    *grpc.Server

	mu    sync.Mutex
	beats map[string]HeartbeatInfo
	kicks map[string]chan struct{}
	// dispatched remembers which host each run went to.
	dispatched map[int64]string

	nAlerts, nEvents, nInv atomic.Uint64
	nBatches, nCommits     atomic.Uint64

	// Group writes (batch.go).
	commits     chan commitReq
	seenMu      sync.Mutex
	pendingSeen map[string]store.HostSeen
	bgCtx       context.Context
	bgCancel    context.CancelFunc
	bg          sync.WaitGroup
	startOnce   sync.Once
	stopOnce    sync.Once
	running     atomic.Bool
	revoked     map[string]bool // by pollLoop; guarded by mu
}

// NewServer checks the options and issues the server's TLS certificate.
func NewServer(o Options) (*Server, error) {
	if o.Store == nil || o.CA == nil {
		return nil, errors.New("link: Store and CA are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClientCertValidity <= 0 {
		o.ClientCertValidity = pki.ClientValidity
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.TaskPollInterval <= 0 {
		o.TaskPollInterval = DefaultTaskPollInterval
	}
	if o.Committers <= 0 {
		o.Committers = 1
	}
	if len(o.TaskPublicKey) != 0 && len(o.TaskPublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("link: task public key has %d bytes, want %d", len(o.TaskPublicKey), ed25519.PublicKeySize)
	}
	if len(o.ServerNames) == 0 {
		o.ServerNames = []string{"localhost", "127.0.0.1", "::1"}
		if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
			o.ServerNames = append(o.ServerNames, h)
		}
	}
	cert, err := o.CA.IssueServer(o.ServerNames, pki.ServerValidity)
	if err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	s := &Server{o: o, log: o.Logger, tlsCert: cert, beats: map[string]HeartbeatInfo{},
		kicks: map[string]chan struct{}{}, dispatched: map[int64]string{},
		commits: make(chan commitReq, maxGroupBatches), pendingSeen: map[string]store.HostSeen{}}
	s.grpc = grpc.NewServer(
		grpc.Creds(credentials.NewTLS(s.TLSConfig())),
		grpc.MaxRecvMsgSize(maxMessageBytes),
		// Thousands of mostly idle connections: give each connection's
		// write buffer back between writes, and read through a smaller one.
		grpc.SharedWriteBuffer(true),
		grpc.ReadBufferSize(16<<10),
		grpc.UnaryInterceptor(s.unaryAuth),
		grpc.StreamInterceptor(s.streamAuth),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	vigilv1.RegisterLinkServer(s.grpc, service{s: s})
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	return s, nil
}

// TLSConfig is the listener's TLS configuration: the server certificate
// (chained to the CA) and a requested, not required, client certificate
// checked per call.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{s.tlsCert},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS13,
	}
}

// Serve serves the link on lis (plain TCP; TLS is added here) until Stop.
func (s *Server) Serve(lis net.Listener) error {
	s.start()
	return s.grpc.Serve(lis)
}

// Stop closes every connection and the listeners, then writes the last
// heartbeats.
func (s *Server) Stop() {
	s.grpc.Stop()
	s.shutdown()
}

// GracefulStop stops accepting and waits for calls to end.
func (s *Server) GracefulStop() {
	s.grpc.GracefulStop()
	s.shutdown()
}

// Heartbeat returns the latest heartbeat of a host received by this server
// process.
func (s *Server) Heartbeat(hostID string) (HeartbeatInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.beats[hostID]
	return h, ok
}

// Online reports whether the host sent a heartbeat to this server within
// three heartbeat intervals.
func (s *Server) Online(hostID string) bool {
	h, ok := s.Heartbeat(hostID)
	return ok && s.o.Now().Sub(h.Received) <= 3*s.o.HeartbeatInterval
}

// OnlineHost reports whether a stored host was seen within three heartbeat
// intervals of now (for host lists, across server restarts).
func (s *Server) OnlineHost(h store.Host, now time.Time) bool {
	return !h.Revoked && !h.LastSeen.IsZero() && now.Sub(h.LastSeen) <= 3*s.o.HeartbeatInterval
}

// KickTasks makes the host's task stream look for pending runs now.
func (s *Server) KickTasks(hostID string) {
	s.mu.Lock()
	ch := s.kicks[hostID]
	s.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// hostKey carries the authenticated caller in a call's context.
type hostKey struct{}

// caller is an authenticated agent.
type caller struct {
	host     store.Host
	notAfter time.Time // the certificate's expiry
}

func hostFrom(ctx context.Context) store.Host {
	c, _ := ctx.Value(hostKey{}).(caller)
	return c.host
}

func certExpiry(ctx context.Context) time.Time {
	c, _ := ctx.Value(hostKey{}).(caller)
	return c.notAfter
}

const enrolMethod = "/vigil.v1.Link/Enrol"

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if info.FullMethod == enrolMethod {
		return handler(ctx, req)
	}
	h, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	return handler(context.WithValue(ctx, hostKey{}, h), req)
}

type authStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a authStream) Context() context.Context { return a.ctx }

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	h, err := s.authenticate(ss.Context())
	if err != nil {
		return err
	}
	return handler(srv, authStream{ss, context.WithValue(ss.Context(), hostKey{}, h)})
}

// authenticate checks the client certificate and the host's state.
func (s *Server) authenticate(ctx context.Context) (caller, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return caller{}, status.Error(codes.Unauthenticated, "no peer")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.PeerCertificates) == 0 {
		return caller{}, status.Error(codes.Unauthenticated, "a client certificate is required; enrol first")
	}
	cert := ti.State.PeerCertificates[0]
	hostID, err := s.o.CA.VerifyClient(cert, s.o.Now())
	if err != nil {
		return caller{}, status.Errorf(codes.Unauthenticated, "client certificate: %v", err)
	}
	h, err := s.o.Store.GetHost(ctx, hostID)
	if errors.Is(err, store.ErrNotFound) {
		return caller{}, status.Errorf(codes.PermissionDenied, "host %s is not enrolled", hostID)
	}
	if err != nil {
		return caller{}, status.Errorf(codes.Unavailable, "look up host: %v", err)
	}
	if h.Revoked {
		return caller{}, status.Errorf(codes.PermissionDenied, "host %s is revoked", hostID)
	}
	if fp := pki.Fingerprint(cert.Raw); fp != h.CertSHA256 {
		return caller{}, status.Errorf(codes.PermissionDenied, "certificate %s is not host %s's current certificate", fp, hostID)
	}
	return caller{host: h, notAfter: cert.NotAfter}, nil
}

// service is the gRPC face of a Server.
type service struct {
	vigilv1.UnimplementedLinkServer
	s *Server
}

func (v service) Enrol(ctx context.Context, req *vigilv1.EnrolRequest) (*vigilv1.EnrolResponse, error) {
	return v.s.enrol(ctx, req)
}
func (v service) Heartbeat(st vigilv1.Link_HeartbeatServer) error { return v.s.heartbeats(st) }
func (v service) Upload(st vigilv1.Link_UploadServer) error       { return v.s.upload(st) }
func (v service) Tasks(st vigilv1.Link_TasksServer) error         { return v.s.tasks(st) }

// enrol serves Enrol.
func (s *Server) enrol(ctx context.Context, req *vigilv1.EnrolRequest) (*vigilv1.EnrolResponse, error) {
	if req.GetSecret() == "" {
		return nil, status.Error(codes.InvalidArgument, "no enrolment secret")
	}
	idb := make([]byte, 16)
	if _, err := rand.Read(idb); err != nil {
		return nil, status.Errorf(codes.Internal, "host ID: %v", err)
	}
	hostID := hex.EncodeToString(idb)
	now := s.o.Now().UTC()
	if err := checkText(req.GetHostname(), req.GetOs(), req.GetAgentVersion()); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "enrol: %v", err)
	}
	// Check the CSR before the token is spent.
	cert, err := s.o.CA.IssueClient(req.GetCsrDer(), hostID, now.Add(-5*time.Minute), now.Add(s.o.ClientCertValidity))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	tok, err := s.o.Store.ConsumeEnrolToken(ctx, pki.HashSecret(req.GetSecret()), now, hostID)
	if errors.Is(err, store.ErrNotFound) {
		s.log.Warn("enrolment refused: token unknown, used or expired", "hostname", req.GetHostname(), "peer", peerAddr(ctx))
		return nil, status.Error(codes.PermissionDenied, "enrolment token unknown, already used or expired")
	}
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "consume token: %v", err)
	}
	h := store.Host{
		ID: hostID, Hostname: req.GetHostname(), OS: req.GetOs(), AgentVersion: req.GetAgentVersion(),
		CertSerial: pki.SerialHex(cert), CertSHA256: pki.Fingerprint(cert.Raw), EnrolledAt: now, LastSeen: now,
	}
	if err := s.o.Store.UpsertHost(ctx, h); err != nil {
		code := codes.Unavailable
		if errors.Is(err, store.ErrInvalid) {
			code = codes.InvalidArgument
		}
		return nil, status.Errorf(code, "record host: %v", err)
	}
	details, _ := json.Marshal(map[string]string{"token": tok.Name, "hostname": h.Hostname, "cert_sha256": h.CertSHA256})
	if _, err := s.o.Store.AppendAudit(ctx, store.AuditEntry{Time: now, Actor: "agent:" + hostID, Action: "host.enrol",
		Object: "host:" + hostID, Details: details}); err != nil {
		s.log.Error("audit enrolment", "host", hostID, "err", err)
	}
	s.log.Info("host enrolled", "host", hostID, "hostname", h.Hostname, "token", tok.Name)
	return &vigilv1.EnrolResponse{
		HostId: hostID, CertDer: cert.Raw, CaDer: s.o.CA.Cert.Raw, TaskPublicKey: s.o.TaskPublicKey,
		HeartbeatSeconds: uint32(max(1, s.o.HeartbeatInterval/time.Second)),
	}, nil
}

// checkText refuses what an agent reports about itself (hostname, OS,
// versions) unless it is short, valid UTF-8 without NUL.
func checkText(vs ...string) error {
	for _, v := range vs {
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) || len(v) > 1024 {
			return fmt.Errorf("%.40q is not valid text (UTF-8, no NUL, at most 1024 bytes)", v)
		}
	}
	return nil
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok {
		return p.Addr.String()
	}
	return ""
}

// heartbeats serves a Heartbeat stream.
func (s *Server) heartbeats(stream vigilv1.Link_HeartbeatServer) error {
	ctx := stream.Context()
	h := hostFrom(ctx)
	for {
		req, err := stream.Recv()
		if err != nil {
			return endOfStream(err)
		}
		// Revocation and expiry also end a live connection, at the next
		// heartbeat.
		if s.o.Now().After(certExpiry(ctx)) {
			return status.Error(codes.Unauthenticated, "client certificate has expired")
		}
		if s.isRevoked(h.ID) {
			return status.Errorf(codes.PermissionDenied, "host %s is revoked", h.ID)
		}
		now := s.o.Now().UTC()
		info := HeartbeatInfo{
			AgentVersion: req.GetAgentVersion(), SensorMode: req.GetSensorMode(), Drops: req.GetDrops(),
			SpoolDrops: req.GetSpoolDrops(), QueueDepth: req.GetQueueDepth(), RSSBytes: req.GetRssBytes(),
			CPU: time.Duration(req.GetCpuMillis()) * time.Millisecond, Received: now,
		}
		if t := req.GetTimeUnixNano(); t != 0 {
			info.AgentTime = time.Unix(0, t).UTC()
		}
		s.mu.Lock()
		s.beats[h.ID] = info
		s.mu.Unlock()
		hs := store.HostSeen{ID: h.ID, LastSeen: now, AgentVersion: info.AgentVersion, SensorMode: info.SensorMode,
			Hostname: req.GetHostname(), OS: req.GetOs()}
		if err := checkText(hs.AgentVersion, hs.SensorMode, hs.Hostname, hs.OS); err != nil {
			return status.Errorf(codes.InvalidArgument, "heartbeat: %v", err)
		}
		s.seen(hs)
		ack := &vigilv1.HeartbeatAck{TimeUnixNano: now.UnixNano()}
		if s.o.Policy != nil {
			if p, err := s.o.Policy(ctx, h.ID); err != nil {
				s.log.Warn("host policy not sent", "host", h.ID, "err", err)
			} else if p.GetVersion() != req.GetPolicyVersion() {
				ack.Policy = p
			}
		}
		if err := stream.Send(ack); err != nil {
			return err
		}
	}
}

// endOfStream maps the end of a client stream to the handler's result.
func endOfStream(err error) error {
	if errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
