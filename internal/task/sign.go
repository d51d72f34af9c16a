package task

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
)

// KeyFile is the server's task signing key, relative to its data
// directory: a PKCS #8 ed25519 private key in PEM, mode 0600.
const KeyFile = "task-signing.key"

// DefaultValidity is how long a signed run stays valid after SignRun.
const DefaultValidity = time.Hour

// Signature contexts: a signature over a run can never pass for one over
// a task definition, or for anything else the key might sign.
const (
	runContext  = "vigil task run v1\n"
	taskContext = "vigil task definition v1\n"
)

// Signer signs task definitions and runs with the server's key. It
// implements the agent link's TaskSigner.
type Signer struct {
	key ed25519.PrivateKey
	// Validity is how long a signed run stays valid; 0 means
	// DefaultValidity. At most MaxValidity.
	Validity time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// NewSigner returns a Signer with key.
func NewSigner(key ed25519.PrivateKey) (*Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("task signing key: %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	return &Signer{key: key}, nil
}

// LoadOrCreateSigner reads the signing key from <dataDir>/task-signing.key,
// creating it (0600, in a 0700 directory) when it does not exist. A key
// file readable by group or others is refused.
func LoadOrCreateSigner(dataDir string) (*Signer, error) {
	path := filepath.Join(dataDir, KeyFile)
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKey(dataDir, path); err != nil {
			return nil, err
		}
		key, err = readKey(path)
	}
	if err != nil {
		return nil, err
	}
	return NewSigner(key)
}

func readKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("task signing key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("task signing key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("task signing key %s: not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("task signing key %s: mode %v is readable by others; want 0600", path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 8192))
	if err != nil {
		return nil, fmt.Errorf("task signing key %s: %w", path, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("task signing key %s: want a PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("task signing key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("task signing key %s: %T, want ed25519", path, k)
	}
	return ek, nil
}

// createKey writes a new key to a temporary file and links it into place,
// so that two servers starting at once end up with one key.
func createKey(dataDir, path string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("task signing key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("task signing key: generate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("task signing key: %w", err)
	}
	f, err := os.CreateTemp(dataDir, "."+KeyFile+".tmp*")
	if err != nil {
		return fmt.Errorf("task signing key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = f.Chmod(0o600)
	if err == nil {
		err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("task signing key: write: %w", err)
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("task signing key: %w", err)
	}
	if d, err := os.Open(dataDir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// PublicKey returns the key agents verify with.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// PublicKeyPEM returns the public key as a PEM "PUBLIC KEY" block (PKIX),
// to hand to agents at enrolment.
func (s *Signer) PublicKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(s.PublicKey())
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePublicKey reads an agent's copy of the server's key: a PEM "PUBLIC
// KEY" block, or the 32 raw bytes in standard base64 or hex.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("task public key: PEM block %q, want \"PUBLIC KEY\"", blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("task public key: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("task public key: %T, want ed25519", k)
		}
		return ek, nil
	}
	s := strings.TrimSpace(string(b))
	if raw, err := hex.DecodeString(s); err == nil && len(raw) == ed25519.PublicKeySize {
		return ed25519.PublicKey(raw), nil
	}
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil && len(raw) == ed25519.PublicKeySize {
		return ed25519.PublicKey(raw), nil
	}
	return nil, errors.New("task public key: want PEM, or 32 bytes in hex or base64")
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// taskMessage is what a task definition's signature covers: everything
// but the ID, which the store assigns after signing.
// The params are taken in their canonical form, so a store that
// reformats JSON does not break the signature.
func taskMessage(t store.Task) ([]byte, error) {
	_, params, err := ParseParams(t.Type, t.Params)
	if err != nil {
		return nil, fmt.Errorf("task %d: %w", t.ID, err)
	}
	b, err := json.Marshal(struct {
		Type      string          `json:"type"`
		Params    json.RawMessage `json:"params"`
		Targets   store.Targets   `json:"targets"`
		Schedule  string          `json:"schedule"`
		CreatedBy string          `json:"created_by"`
		CreatedAt time.Time       `json:"created_at"`
	}{t.Type, params, t.Targets, t.Schedule, t.CreatedBy, t.CreatedAt.UTC()})
	if err != nil {
		return nil, fmt.Errorf("encode task: %w", err)
	}
	return append([]byte(taskContext), b...), nil
}

// SignTask returns the signature of a task definition (store.Task's
// Signature): the task centre signs every task it creates, and SignRun
// refuses a task whose signature does not verify, so a row written to the
// store by anything else cannot be dispatched.
func (s *Signer) SignTask(t store.Task) ([]byte, error) {
	m, err := taskMessage(t)
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(s.key, m), nil
}

// VerifyTask checks t.Signature.
func (s *Signer) VerifyTask(t store.Task) error {
	m, err := taskMessage(t)
	if err != nil {
		return err
	}
	if !ed25519.Verify(s.PublicKey(), m, t.Signature) {
		return fmt.Errorf("task %d: %w: the definition is not signed by this server's key (create tasks with the task centre)", t.ID, ErrBadSignature)
	}
	return nil
}

// SignRun returns the signed envelope of run r of task t: the payload and
// its ed25519 signature. It checks the task's own signature, its type and
// parameters, and that r belongs to t.
func (s *Signer) SignRun(ctx context.Context, t store.Task, r store.TaskRun) (payload, sig []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if r.TaskID != t.ID {
		return nil, nil, fmt.Errorf("sign run %d: it belongs to task %d, not %d", r.ID, r.TaskID, t.ID)
	}
	if err := s.VerifyTask(t); err != nil {
		return nil, nil, fmt.Errorf("sign run %d: %w", r.ID, err)
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, nil, fmt.Errorf("sign run %d: nonce: %w", r.ID, err)
	}
	v := s.Validity
	if v <= 0 {
		v = DefaultValidity
	}
	v = min(v, MaxValidity)
	now := s.now()
	e := &Envelope{V: EnvelopeVersion, RunID: r.ID, TaskID: t.ID, HostID: r.HostID, Type: Type(t.Type),
		Params: t.Params, IssuedAt: now, ExpiresAt: now.Add(v), Nonce: hex.EncodeToString(nonce[:])}
	payload, err = e.Encode()
	if err != nil {
		return nil, nil, fmt.Errorf("sign run %d: %w", r.ID, err)
	}
	return payload, SignPayload(s.key, payload), nil
}

// SignPayload signs an envelope payload with key. SignRun uses it; tests
// use it to sign payloads of their own making.
func SignPayload(key ed25519.PrivateKey, payload []byte) []byte {
	return ed25519.Sign(key, append([]byte(runContext), payload...))
}

// Verifier checks signed runs for one agent.
type Verifier struct {
	Key    ed25519.PublicKey
	HostID string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verify checks a signed run: signature, canonical form, type and
// parameters, host, and validity window. It does not check for replay
// (the runner does). Errors wrap ErrBadSignature, ErrMalformed,
// ErrUnknownType, ErrInvalidParams, ErrWrongHost or ErrExpired.
func (v *Verifier) Verify(payload, sig []byte) (*Envelope, Params, error) {
	if len(v.Key) != ed25519.PublicKeySize {
		return nil, nil, fmt.Errorf("%w: no server key configured", ErrBadSignature)
	}
	if len(payload) > MaxPayloadSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(payload), MaxPayloadSize)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(v.Key, append([]byte(runContext), payload...), sig) {
		return nil, nil, fmt.Errorf("%w: does not verify with the server's key", ErrBadSignature)
	}
	e, p, err := ParseEnvelope(payload)
	if err != nil {
		return nil, nil, err
	}
	if e.HostID != v.HostID {
		return nil, nil, fmt.Errorf("%w: run %d is for host %q, this is %q", ErrWrongHost, e.RunID, e.HostID, v.HostID)
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	if !now.Before(e.ExpiresAt) {
		return nil, nil, fmt.Errorf("%w: run %d expired at %s", ErrExpired, e.RunID, e.ExpiresAt.Format(time.RFC3339))
	}
	if e.IssuedAt.After(now.Add(MaxClockSkew)) {
		return nil, nil, fmt.Errorf("%w: run %d issued at %s, in the future (check the clocks)", ErrExpired, e.RunID, e.IssuedAt.Format(time.RFC3339))
	}
	return e, p, nil
}
