package task

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// EnvelopeVersion is the version of the envelope format.
const EnvelopeVersion = 1

// Limits on envelopes.
const (
	// MaxPayloadSize bounds a signed payload.
	MaxPayloadSize = MaxParamsSize + 4096
	// MaxValidity bounds expires_at - issued_at.
	MaxValidity = 24 * time.Hour
	// MaxClockSkew is how far in the future issued_at may be on the
	// agent's clock.
	MaxClockSkew = 5 * time.Minute
)

// Errors of envelope verification; errors wrap them.
var (
	// ErrMalformed: the payload is not a well-formed, canonical envelope.
	ErrMalformed = errors.New("malformed task envelope")
	// ErrBadSignature: the signature does not verify with the server's key.
	ErrBadSignature = errors.New("bad task signature")
	// ErrWrongHost: the run is addressed to another host.
	ErrWrongHost = errors.New("task run addressed to another host")
	// ErrExpired: the envelope's validity ended (or has not begun).
	ErrExpired = errors.New("task run expired")
	// ErrReplay: the run ID or nonce was seen before.
	ErrReplay = errors.New("task run replayed")
)

// Envelope is what the server signs for one run on one host. Its JSON
// encoding (fields in this order, times in RFC 3339 with nanoseconds, UTC,
// params in their canonical form) is the signed payload.
type Envelope struct {
	V         int             `json:"v"`
	RunID     int64           `json:"run_id"`
	TaskID    int64           `json:"task_id"`
	HostID    string          `json:"host_id"`
	Type      Type            `json:"type"`
	Params    json.RawMessage `json:"params"`
	IssuedAt  time.Time       `json:"issued_at"`
	ExpiresAt time.Time       `json:"expires_at"`
	Nonce     string          `json:"nonce"` // 32 lowercase hex digits
}

// Encode returns the canonical payload of e after checking it: the params
// are decoded, validated and re-encoded canonically.
func (e *Envelope) Encode() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	_, canon, err := ParseParams(string(e.Type), e.Params)
	if err != nil {
		return nil, err
	}
	c := *e
	c.Params = canon
	c.IssuedAt, c.ExpiresAt = e.IssuedAt.UTC(), e.ExpiresAt.UTC()
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	if len(b) > MaxPayloadSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(b), MaxPayloadSize)
	}
	return b, nil
}

func (e *Envelope) check() error {
	switch {
	case e.V != EnvelopeVersion:
		return fmt.Errorf("%w: version %d, want %d", ErrMalformed, e.V, EnvelopeVersion)
	case e.RunID <= 0:
		return fmt.Errorf("%w: run_id %d", ErrMalformed, e.RunID)
	case e.TaskID <= 0:
		return fmt.Errorf("%w: task_id %d", ErrMalformed, e.TaskID)
	case e.HostID == "" || len(e.HostID) > 256 || !utf8.ValidString(e.HostID) || strings.ContainsFunc(e.HostID, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: host_id %q", ErrMalformed, e.HostID)
	case e.IssuedAt.IsZero() || e.ExpiresAt.IsZero():
		return fmt.Errorf("%w: issued_at and expires_at are required", ErrMalformed)
	case !e.ExpiresAt.After(e.IssuedAt):
		return fmt.Errorf("%w: expires_at %s not after issued_at %s", ErrMalformed, e.ExpiresAt.Format(time.RFC3339Nano), e.IssuedAt.Format(time.RFC3339Nano))
	case e.ExpiresAt.Sub(e.IssuedAt) > MaxValidity:
		return fmt.Errorf("%w: valid for %v, at most %v", ErrMalformed, e.ExpiresAt.Sub(e.IssuedAt), MaxValidity)
	}
	if b, err := hex.DecodeString(e.Nonce); err != nil || len(b) != 16 || strings.ToLower(e.Nonce) != e.Nonce {
		return fmt.Errorf("%w: nonce %q: want 32 lowercase hex digits", ErrMalformed, e.Nonce)
	}
	return nil
}

// ParseEnvelope decodes a payload strictly and validates it and its
// params: it must be exactly the canonical encoding Encode produces, so
// that what was signed is what is read. It returns the envelope (Params
// canonical) and the typed params. Errors wrap ErrMalformed,
// ErrUnknownType or ErrInvalidParams.
func ParseEnvelope(payload []byte) (*Envelope, Params, error) {
	if len(payload) > MaxPayloadSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(payload), MaxPayloadSize)
	}
	var e Envelope
	if err := DecodeStrict(payload, &e); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := e.check(); err != nil {
		return nil, nil, err
	}
	p, canon, err := ParseParams(string(e.Type), e.Params)
	if err != nil {
		return nil, nil, err
	}
	e.Params = canon
	again, err := json.Marshal(&e)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(again, payload) {
		return nil, nil, fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	return &e, p, nil
}
