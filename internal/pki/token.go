package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// TokenPrefix starts every enrolment token; the version of its format.
const TokenPrefix = "vgl1"

// secretBytes is the entropy of an enrolment secret.
const secretBytes = 24

// EnrolToken is a parsed enrolment token.
type EnrolToken struct {
	Secret string // base64url, no padding
	CAPin  string // hex SHA-256 of the CA certificate
}

// String formats the token as the user sees it: vgl1.<secret>.<ca-sha256>.
func (t EnrolToken) String() string { return TokenPrefix + "." + t.Secret + "." + t.CAPin }

// NewEnrolToken creates a token with a fresh random secret pinning ca.
// Store HashSecret(t.Secret) (store.EnrolToken.Hash) and show t.String()
// to the user once.
func NewEnrolToken(ca *CA) (EnrolToken, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return EnrolToken{}, fmt.Errorf("enrolment token: %w", err)
	}
	return EnrolToken{Secret: base64.RawURLEncoding.EncodeToString(b), CAPin: ca.SHA256()}, nil
}

// ParseEnrolToken parses "vgl1.<secret>.<ca-sha256-hex>".
func ParseEnrolToken(s string) (EnrolToken, error) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != TokenPrefix {
		return EnrolToken{}, fmt.Errorf("enrolment token: want %s.<secret>.<ca-sha256>", TokenPrefix)
	}
	secret, pin := parts[1], strings.ToLower(parts[2])
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) < 16 {
		return EnrolToken{}, fmt.Errorf("enrolment token: bad secret")
	}
	if p, err := hex.DecodeString(pin); err != nil || len(p) != sha256.Size {
		return EnrolToken{}, fmt.Errorf("enrolment token: CA pin is not a hex SHA-256")
	}
	return EnrolToken{Secret: secret, CAPin: pin}, nil
}

// HashSecret is what the store keeps of an enrolment secret: hex SHA-256.
// The secret has 192 random bits, so a fast hash is enough.
func HashSecret(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

// VerifyPinned checks a server's TLS chain against the CA whose
// fingerprint is pin (an enrolment token's CAPin): the server must send
// that CA in its chain, and its certificate must be valid for host under
// it. Agents use it before they trust a server they hold no CA for yet.
func VerifyPinned(cs tls.ConnectionState, host, pin string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	var ca *x509.Certificate
	for _, c := range cs.PeerCertificates {
		if Fingerprint(c.Raw) == pin {
			ca = c
		}
	}
	if ca == nil {
		return fmt.Errorf("server certificate is not issued by the CA %s pinned in the enrolment token", pin)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	return nil
}
