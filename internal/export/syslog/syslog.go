// Package syslog delivers OCSF records as RFC 5424 syslog messages over
// TCP with octet-counting framing (RFC 6587 §3.4.1) or over TLS (RFC
// 5425, the same framing). Each message carries one OCSF JSON object as
// MSG, a structured-data element with the record's idempotency key, store
// position and class, PRI from the record's severity, APP-NAME "vigil" and
// MSGID the OCSF class_uid.
//
// The standard library's log/syslog writes RFC 3164-style lines without
// framing and has no TLS, so the writer is our own: the format is small
// and fuzzed against a parser (FuzzFrameRoundTrip).
package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/export"
	"github.com/vigilsec/vigil/internal/severity"
)

// Facilities (RFC 5424 §6.2.1) a SIEM feed commonly uses.
const (
	FacilityAuth     = 4  // security/authorization messages
	FacilityAuthPriv = 10 // security/authorization messages (private)
	FacilityLogAudit = 13
	FacilityLocal0   = 16
)

// Severities (RFC 5424 §6.2.1).
const (
	SevEmergency = iota
	SevAlert
	SevCritical
	SevError
	SevWarning
	SevNotice
	SevInfo
	SevDebug
)

// DocumentationPEN is the private enterprise number RFC 5612 reserves for
// documentation; the default SD-ID is "vigil@32473" until a site sets its
// own number.
const DocumentationPEN = "32473"

// Severity maps a Vigil severity to a syslog severity.
func Severity(l severity.Level) int {
	switch l {
	case severity.Critical:
		return SevCritical
	case severity.High:
		return SevError
	case severity.Medium:
		return SevWarning
	case severity.Info:
		return SevInfo
	}
	return SevNotice // low and unspecified
}

// Param is one SD-PARAM.
type Param struct{ Name, Value string }

// Element is one SD-ELEMENT.
type Element struct {
	ID     string
	Params []Param
}

// Message is one RFC 5424 message.
type Message struct {
	Facility, Severity int
	Time               time.Time
	Hostname           string
	AppName            string
	ProcID             string
	MsgID              string
	SD                 []Element
	Msg                []byte
}

// header fields are PRINTUSASCII (33..126) of bounded length; "-" is nil.
func headerField(s string, maxLen int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxLen; i++ {
		if c := s[i]; c >= 33 && c <= 126 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// sdName is an SD-ID or PARAM-NAME: PRINTUSASCII except '=', ']', '"',
// at most 32 characters.
func sdName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 32; i++ {
		if c := s[i]; c >= 33 && c <= 126 && c != '=' && c != ']' && c != '"' {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// SanitizeHeader returns the header fields as AppendMessage writes them.
func SanitizeHeader(m Message) (hostname, app, procID, msgID string) {
	return headerField(m.Hostname, 255), headerField(m.AppName, 48), headerField(m.ProcID, 128), headerField(m.MsgID, 32)
}

// SanitizeSD returns the structured data as AppendMessage writes it
// (before escaping): names restricted, values valid UTF-8.
func SanitizeSD(sd []Element) []Element {
	out := make([]Element, 0, len(sd))
	for _, e := range sd {
		ne := Element{ID: sdName(e.ID)}
		for _, p := range e.Params {
			ne.Params = append(ne.Params, Param{Name: sdName(p.Name), Value: strings.ToValidUTF8(p.Value, "\uFFFD")})
		}
		out = append(out, ne)
	}
	return out
}

// AppendMessage appends m in RFC 5424 form to b. Fields that do not fit
// the grammar are made to: header fields lose bytes outside
// PRINTUSASCII and are cut to their maximum length, SD names likewise,
// SD values become valid UTF-8 with '"', '\' and ']' escaped. MSG is
// written as is (MSG-ANY, no BOM, so JSON parsers read it).
func AppendMessage(b []byte, m Message) []byte {
	fac := min(max(m.Facility, 0), 23)
	sev := min(max(m.Severity, 0), 7)
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(fac*8+sev), 10)
	b = append(b, ">1 "...)
	if m.Time.IsZero() {
		b = append(b, '-')
	} else {
		b = m.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	}
	host, app, proc, msgID := SanitizeHeader(m)
	for _, f := range []string{host, app, proc, msgID} {
		b = append(b, ' ')
		b = append(b, f...)
	}
	b = append(b, ' ')
	sd := SanitizeSD(m.SD)
	if len(sd) == 0 {
		b = append(b, '-')
	}
	for _, e := range sd {
		b = append(b, '[')
		b = append(b, e.ID...)
		for _, p := range e.Params {
			b = append(b, ' ')
			b = append(b, p.Name...)
			b = append(b, '=', '"')
			for i := 0; i < len(p.Value); i++ {
				if c := p.Value[i]; c == '"' || c == '\\' || c == ']' {
					b = append(b, '\\')
				}
				b = append(b, p.Value[i])
			}
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	if len(m.Msg) > 0 {
		b = append(b, ' ')
		b = append(b, m.Msg...)
	}
	return b
}

// AppendFrame appends m with octet-counting framing: "<length> <message>".
func AppendFrame(b []byte, m Message) []byte {
	msg := AppendMessage(nil, m)
	b = strconv.AppendInt(b, int64(len(msg)), 10)
	b = append(b, ' ')
	return append(b, msg...)
}

// Config configures a syslog destination.
type Config struct {
	// Addr is host:port of the collector (6514 is the TLS port, 601 TCP).
	Addr string
	// TLSConfig enables TLS (RFC 5425) when set.
	TLSConfig *tls.Config
	// Facility is the PRI facility (default FacilityAuth).
	Facility int
	// AppName is the APP-NAME (default "vigil").
	AppName string
	// Hostname is the HOSTNAME of records without a host (default
	// os.Hostname()).
	Hostname string
	// EnterpriseID is the number in the SD-ID "vigil@<n>" (default
	// DocumentationPEN).
	EnterpriseID string
	// DialTimeout and WriteTimeout bound connecting and one batch write
	// (defaults 5s and 10s).
	DialTimeout, WriteTimeout time.Duration
}

// Sender writes records to a syslog collector, reconnecting when the
// connection fails. It implements export.Sender.
type Sender struct {
	cfg   Config
	sdID  string
	pid   string
	conn  net.Conn
	buf   []byte // the frames of one batch
	msg   []byte // one message, reused
	probe [512]byte
}

// New checks cfg and makes a Sender; it connects on first use.
func New(cfg Config) (*Sender, error) {
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("syslog addr %q: %w", cfg.Addr, err)
	}
	if cfg.Facility < 0 || cfg.Facility > 23 {
		return nil, fmt.Errorf("syslog facility %d: want 0..23", cfg.Facility)
	}
	if cfg.Facility == 0 {
		cfg.Facility = FacilityAuth // 0 is kernel messages, never ours
	}
	if cfg.AppName == "" {
		cfg.AppName = "vigil"
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.EnterpriseID == "" {
		cfg.EnterpriseID = DocumentationPEN
	}
	for _, c := range cfg.EnterpriseID {
		if (c < '0' || c > '9') && c != '.' {
			return nil, fmt.Errorf("syslog enterprise id %q: want digits and dots", cfg.EnterpriseID)
		}
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	return &Sender{cfg: cfg, sdID: "vigil@" + cfg.EnterpriseID, pid: strconv.Itoa(os.Getpid())}, nil
}

// NewExporter makes a Sender and the queue in front of it.
func NewExporter(cfg Config, opts export.Options) (*export.Queue, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return export.New(s, opts), nil
}

// Message builds the syslog message of one record.
func (s *Sender) Message(r export.Record) Message {
	host := r.Host
	if host == "" {
		host = s.cfg.Hostname
	}
	return Message{
		Facility: s.cfg.Facility,
		Severity: Severity(r.Severity),
		Time:     r.Time,
		Hostname: host,
		AppName:  s.cfg.AppName,
		ProcID:   s.pid,
		MsgID:    strconv.Itoa(r.Class),
		SD: []Element{{ID: s.sdID, Params: []Param{
			{"key", r.Key}, {"seq", strconv.FormatUint(r.Seq, 10)}, {"class_uid", strconv.Itoa(r.Class)},
		}}},
		Msg: r.Data,
	}
}

// Send implements export.Sender. A batch goes out in one write; TCP
// cannot say which frames a collector read before a failure, so on error
// the whole batch is retried (the key parameter lets a collector drop
// duplicates).
func (s *Sender) Send(ctx context.Context, recs []export.Record) (int, error) {
	s.buf = s.buf[:0]
	n := 0
	for _, r := range recs {
		if !utf8.Valid(r.Data) {
			break // not OCSF JSON: sent alone below, then rejected
		}
		s.msg = AppendMessage(s.msg[:0], s.Message(r))
		s.buf = strconv.AppendInt(s.buf, int64(len(s.msg)), 10)
		s.buf = append(s.buf, ' ')
		s.buf = append(s.buf, s.msg...)
		n++
	}
	if n == 0 {
		if len(recs) == 0 {
			return 0, nil
		}
		return 0, export.Permanent(fmt.Errorf("syslog record %q: data is not UTF-8", recs[0].Key))
	}
	if err := s.connect(ctx); err != nil {
		return 0, err
	}
	dl := time.Now().Add(s.cfg.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	stop := context.AfterFunc(ctx, func() { s.conn.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	s.conn.SetWriteDeadline(dl)
	if _, err := s.conn.Write(s.buf); err != nil {
		s.drop()
		return 0, fmt.Errorf("syslog write to %s: %w", s.cfg.Addr, err)
	}
	return n, nil
}

// connect dials when there is no connection, and redials when the
// collector has closed the one we hold.
func (s *Sender) connect(ctx context.Context) error {
	if s.conn != nil && !s.alive() {
		s.drop()
	}
	if s.conn != nil {
		return nil
	}
	nd := &net.Dialer{Timeout: s.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	var (
		c   net.Conn
		err error
	)
	if s.cfg.TLSConfig != nil {
		c, err = (&tls.Dialer{NetDialer: nd, Config: s.cfg.TLSConfig}).DialContext(ctx, "tcp", s.cfg.Addr)
	} else {
		c, err = nd.DialContext(ctx, "tcp", s.cfg.Addr)
	}
	if err != nil {
		return fmt.Errorf("syslog connect %s: %w", s.cfg.Addr, err)
	}
	s.conn = c
	return nil
}

// alive peeks at the socket without blocking. A collector never sends, so
// end of stream or an error means it hung up; pending bytes on a TLS
// connection (a TLS 1.3 session ticket, a close_notify alert) are read
// through TLS, which tells the two apart. A peer that vanished without a
// FIN is only noticed by the write that fails.
func (s *Sender) alive() bool {
	raw := s.conn
	if tc, ok := raw.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var n int
	var perr error
	if err := rc.Read(func(fd uintptr) bool {
		n, _, perr = unix.Recvfrom(int(fd), s.probe[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true
	}); err != nil {
		return false
	}
	switch {
	case errors.Is(perr, unix.EAGAIN):
		return true
	case perr != nil || n == 0:
		return false
	}
	// Data is waiting: consume it through the connection with a short
	// deadline; EOF or an alert means the collector is gone.
	s.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	defer s.conn.SetReadDeadline(time.Time{})
	_, err = s.conn.Read(s.probe[:])
	var ne net.Error
	return err == nil || (errors.As(err, &ne) && ne.Timeout())
}

func (s *Sender) drop() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// Close implements export.Sender.
func (s *Sender) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}
