// Package webhook delivers OCSF records by HTTP(S) POST, one record per
// request or a batch as a JSON array, signed with HMAC-SHA256 the way
// Stripe signs its webhooks:
//
//	X-Vigil-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// A receiver recomputes the MAC over the timestamp, a dot and the raw body,
// compares in constant time and rejects old timestamps (Verify does all
// three). docs/exporters.md shows Go and openssl examples.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/export"
)

// Header names.
const (
	SignatureHeader   = "X-Vigil-Signature"
	IdempotencyHeader = "Idempotency-Key"
	CountHeader       = "X-Vigil-Record-Count"
)

// Config configures a webhook destination.
type Config struct {
	// URL is the http:// or https:// endpoint.
	URL string
	// Secret is the HMAC key; empty sends no signature header.
	Secret []byte
	// Batch sends up to MaxBatch records per request as a JSON array;
	// otherwise each request carries one record object.
	Batch bool
	// Headers are added to every request (an Authorization token, …).
	Headers map[string]string
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
	// CAFile is a PEM bundle trusted instead of the system roots.
	CAFile string
	// TLSConfig, when set, is used as is (client certificates, …); it
	// overrides CAFile.
	TLSConfig *tls.Config
	// Now is the clock the signature timestamp comes from (tests).
	Now func() time.Time
}

// Sender posts records to a webhook. It implements export.Sender.
type Sender struct {
	cfg    Config
	url    string
	client *http.Client
}

// New checks cfg and makes a Sender.
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("webhook url %q: %w", cfg.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook url %q: want http:// or https:// with a host", cfg.URL)
	}
	for k := range cfg.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			return nil, fmt.Errorf("webhook header %q: invalid name", k)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tlsCfg := cfg.TLSConfig
	if tlsCfg == nil && cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("webhook ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("webhook ca file %q: no PEM certificates", cfg.CAFile)
		}
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.Proxy = nil // a SIEM endpoint is reached directly, never through $HTTP_PROXY
	return &Sender{cfg: cfg, url: u.String(), client: &http.Client{Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// NewExporter makes a Sender and the queue in front of it.
func NewExporter(cfg Config, opts export.Options) (*export.Queue, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return export.New(s, opts), nil
}

// Send implements export.Sender.
func (s *Sender) Send(ctx context.Context, recs []export.Record) (int, error) {
	if !s.cfg.Batch {
		for i, r := range recs {
			if err := s.post(ctx, r.Data, r.Key, 1); err != nil {
				return i, err
			}
		}
		return len(recs), nil
	}
	if len(recs) == 0 {
		return 0, nil
	}
	var body bytes.Buffer
	body.WriteByte('[')
	keys := sha256.New()
	for i, r := range recs {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(r.Data)
		keys.Write([]byte(r.Key))
		keys.Write([]byte{0})
	}
	body.WriteByte(']')
	err := s.post(ctx, body.Bytes(), "batch-"+hex.EncodeToString(keys.Sum(nil)[:16]), len(recs))
	if err != nil {
		if export.IsPermanent(err) && len(recs) > 1 {
			// One bad record must not sink its neighbours: retry alone
			// the first one, so only a record refused by itself is
			// counted as rejected.
			if err := s.post(ctx, recs[0].Data, recs[0].Key, 1); err != nil {
				return 0, err
			}
			return 1, nil
		}
		return 0, err
	}
	return len(recs), nil
}

func (s *Sender) post(ctx context.Context, body []byte, key string, count int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return export.Permanent(fmt.Errorf("webhook request: %w", err))
	}
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil-exporter")
	req.Header.Set(IdempotencyHeader, key)
	req.Header.Set(CountHeader, strconv.Itoa(count))
	if len(s.cfg.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(s.cfg.Secret, s.cfg.Now(), body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook post: %w", err) // network error or timeout: retry
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusTooManyRequests:
		err := fmt.Errorf("webhook post: %s", resp.Status)
		return export.RetryAfter(err, retryAfter(resp.Header.Get("Retry-After"), s.cfg.Now()))
	case c == http.StatusRequestTimeout || c >= 500:
		return fmt.Errorf("webhook post: %s: %s", resp.Status, bytes.TrimSpace(msg))
	default:
		return export.Permanent(fmt.Errorf("webhook post: %s: %s", resp.Status, bytes.TrimSpace(msg)))
	}
}

// retryAfter reads a Retry-After value: seconds or an HTTP date. 0 when
// absent or unreadable (the exporter's own backoff applies).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now))
	}
	return 0
}

// Close implements export.Sender.
func (s *Sender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// Sign returns the X-Vigil-Signature value for body sent at time t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors returned by Verify.
var (
	ErrBadSignature = errors.New("webhook signature mismatch")
	ErrStale        = errors.New("webhook signature timestamp outside tolerance")
)

// Verify checks a X-Vigil-Signature header against body: one of its v1
// MACs must match, and its timestamp must be within tolerance of now (a
// replay guard; 0 skips the check). Receivers written in Go can call it.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: malformed part %q", ErrBadSignature, part)
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil {
				return fmt.Errorf("%w: v1 is not hex", ErrBadSignature)
			}
			sigs = append(sigs, b)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp %q", ErrBadSignature, ts)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrBadSignature)
	}
	want := mac(secret, ts, body)
	match := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			match = true
		}
	}
	if !match {
		return ErrBadSignature
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("%w: %v old", ErrStale, d)
		}
	}
	return nil
}
