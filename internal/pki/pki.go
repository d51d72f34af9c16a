// Package pki is the Vigil server's certificate authority and the agent's
// key and enrolment-token helpers.
//
// The CA is an ECDSA P-256 key and a self-signed certificate kept in a
// directory (ca.crt, ca.key mode 0600). It issues agent client certificates
// from a CSR, with the host ID as the subject CN and as a URI SAN
// (vigil://host/<id>), and server certificates for the names the server
// listens on. Certificates are identified by the hex SHA-256 of their DER.
//
// An enrolment token is one string that carries the one-time secret and
// pins the CA: "vgl1.<secret>.<ca-sha256-hex>". The agent verifies the
// server's chain against the pinned CA before it sends the secret, so there
// is no trust on first use. The server stores only HashSecret(secret).
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names in the CA directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// Validity defaults.
const (
	CAValidity     = 20 * 365 * 24 * time.Hour
	ClientValidity = 365 * 24 * time.Hour
	ServerValidity = 365 * 24 * time.Hour
)

// hostURIScheme and hostURIHost form an agent's URI SAN: vigil://host/<id>.
const (
	hostURIScheme = "vigil"
	hostURIHost   = "host"
)

// CA is a certificate authority: a certificate and its private key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// LoadOrCreateCA loads the CA from dir, or creates it (and dir, mode 0700)
// when neither file exists. One file without the other is an error, so a
// half-restored backup is never silently replaced by a new CA.
func LoadOrCreateCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		return LoadCA(dir)
	case errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist):
	case certErr != nil && !errors.Is(certErr, os.ErrNotExist):
		return nil, fmt.Errorf("ca: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, os.ErrNotExist):
		return nil, fmt.Errorf("ca: %w", keyErr)
	default:
		return nil, fmt.Errorf("ca: only one of %s and %s exists in %s", CACertFile, CAKeyFile, dir)
	}
	ca, err := NewCA("Vigil CA", time.Now(), CAValidity)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("ca: marshal key: %w", err)
	}
	if err := WriteFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	if err := WriteFileAtomic(certPath, CertPEM(ca.Cert), 0o644); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	return ca, nil
}

// LoadCA reads the CA from dir.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	cert, err := ParseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("ca: %s: %w", CACertFile, err)
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("ca: %s: %w", CAKeyFile, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("ca: %s is not a CA certificate", CACertFile)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("ca: %s does not match %s", CAKeyFile, CACertFile)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// NewCA creates a CA in memory, valid from notBefore for validity.
func NewCA(name string, notBefore time.Time, validity time.Duration) (*CA, error) {
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Vigil"}},
		NotBefore:             notBefore.Add(-time.Hour),
		NotAfter:              notBefore.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("ca: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// SHA256 is the CA certificate's fingerprint: the pin in enrolment tokens.
func (ca *CA) SHA256() string { return Fingerprint(ca.Cert.Raw) }

// Pool is a certificate pool holding only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// IssueClient issues an agent client certificate for hostID from a DER
// PKCS#10 request, valid in [notBefore, notAfter]. The request's
// signature must verify and its key must be ECDSA P-256; its
// subject is ignored (the CA names the host).
func (ca *CA) IssueClient(csrDER []byte, hostID string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	if hostID == "" || strings.ContainsAny(hostID, "/?#% ") {
		return nil, fmt.Errorf("issue client certificate: bad host ID %q", hostID)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("issue client certificate: parse CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("issue client certificate: CSR signature: %w", err)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("issue client certificate: CSR key is ECDSA %s, want P-256", k.Curve.Params().Name)
		}
	default:
		return nil, fmt.Errorf("issue client certificate: CSR key is %T, want ECDSA P-256", csr.PublicKey)
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("issue client certificate: NotAfter %s is not after NotBefore %s", notAfter, notBefore)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hostID, Organization: []string{"Vigil agent"}},
		URIs:         []*url.URL{HostURI(hostID)},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return ca.sign(tmpl, csr.PublicKey)
}

// IssueServer issues a TLS server certificate and key for the given DNS
// names and IP addresses; the returned certificate's chain includes the CA
// certificate, so an agent holding only the CA fingerprint can verify it.
func (ca *CA) IssueServer(names []string, validity time.Duration) (tls.Certificate, error) {
	key, err := NewKey()
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := newSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "vigil server", Organization: []string{"Vigil"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if len(tmpl.IPAddresses)+len(tmpl.DNSNames) == 0 {
		return tls.Certificate{}, errors.New("issue server certificate: no names")
	}
	cert, err := ca.sign(tmpl, key.Public())
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw, ca.Cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

func (ca *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// VerifyClient checks that cert was issued by the CA for client
// authentication and is valid at now, and returns the host ID it names.
func (ca *CA) VerifyClient(cert *x509.Certificate, now time.Time) (string, error) {
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       ca.Pool(),
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return "", err
	}
	return HostID(cert)
}

// HostURI is the URI SAN naming a host: vigil://host/<id>.
func HostURI(hostID string) *url.URL {
	return &url.URL{Scheme: hostURIScheme, Host: hostURIHost, Path: "/" + hostID}
}

// HostID returns the host ID an agent certificate names: its URI SAN,
// which must agree with the subject CN.
func HostID(cert *x509.Certificate) (string, error) {
	for _, u := range cert.URIs {
		if u.Scheme == hostURIScheme && u.Host == hostURIHost {
			id := strings.TrimPrefix(u.Path, "/")
			if id == "" || id != cert.Subject.CommonName {
				return "", fmt.Errorf("certificate names host %q in its URI and %q in its CN", id, cert.Subject.CommonName)
			}
			return id, nil
		}
	}
	return "", errors.New("certificate names no Vigil host")
}

// NewKey generates an ECDSA P-256 key.
func NewKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// NewCSR creates a DER certificate request for key with the given CN.
func NewCSR(key crypto.Signer, commonName string) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: commonName},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("create CSR: %w", err)
	}
	return der, nil
}

// Fingerprint is the hex SHA-256 of a certificate's DER.
func Fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// SerialHex is a certificate serial number as lowercase hex.
func SerialHex(cert *x509.Certificate) string { return cert.SerialNumber.Text(16) }

// CertPEM encodes a certificate as PEM.
func CertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// KeyPEM encodes a private key as PKCS#8 PEM.
func KeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCertPEM parses the first CERTIFICATE block.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no CERTIFICATE PEM block")
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

// ParseKeyPEM parses a PKCS#8 (or SEC 1 EC) private key PEM block.
func ParseKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("unexpected PEM block %q", blk.Type)
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key of type %T cannot sign", k)
	}
	return s, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	x, ok := a.(eq)
	return ok && x.Equal(b)
}

func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, then syncs the directory: after a crash path holds
// either the old or the new content.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
