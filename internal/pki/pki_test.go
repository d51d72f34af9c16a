package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, CAKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v: want mode 0600", fi, err)
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.SHA256() != ca.SHA256() {
		t.Fatal("reloading the CA gave another certificate")
	}
	// A half-restored directory is an error, not a new CA.
	if err := os.Remove(filepath.Join(dir, CAKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(dir); err == nil || !strings.Contains(err.Error(), "only one") {
		t.Fatalf("CA without its key: %v", err)
	}
	// A key that does not match the certificate.
	other, _ := NewCA("other", time.Now(), time.Hour)
	kp, _ := KeyPEM(other.Key)
	os.WriteFile(filepath.Join(dir, CAKeyFile), kp, 0o600)
	if _, err := LoadCA(dir); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched key: %v", err)
	}
}

func TestIssueClient(t *testing.T) {
	ca, err := NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := NewKey()
	csr, _ := NewCSR(key, "ignored-cn")
	now := time.Now()
	cert, err := ca.IssueClient(csr, "abc123", now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.VerifyClient(cert, now)
	if err != nil || id != "abc123" {
		t.Fatalf("VerifyClient = %q, %v", id, err)
	}
	if _, err := ca.VerifyClient(cert, now.Add(2*time.Hour)); err == nil {
		t.Fatal("expired certificate verified")
	}
	other, _ := NewCA("other", now, time.Hour)
	if _, err := other.VerifyClient(cert, now); err == nil {
		t.Fatal("certificate verified against another CA")
	}
	// A server certificate is not a client certificate.
	srv, err := ca.IssueServer([]string{"localhost", "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.VerifyClient(srv.Leaf, now); err == nil {
		t.Fatal("server certificate accepted as a client")
	}
	if _, err := srv.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.1"}); err != nil {
		t.Fatalf("server certificate for 127.0.0.1: %v", err)
	}

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	csr384, _ := NewCSR(p384, "x")
	tampered := append([]byte(nil), csr...)
	tampered[len(tampered)-5] ^= 1
	for _, tc := range []struct {
		name string
		csr  []byte
		id   string
		nb   time.Time
		na   time.Time
	}{
		{"garbage_csr", []byte("junk"), "h", now, now.Add(time.Hour)},
		{"bad_signature", tampered, "h", now, now.Add(time.Hour)},
		{"p384_key", csr384, "h", now, now.Add(time.Hour)},
		{"empty_host", csr, "", now, now.Add(time.Hour)},
		{"host_with_slash", csr, "a/b", now, now.Add(time.Hour)},
		{"not_after_before_not_before", csr, "h", now, now.Add(-time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ca.IssueClient(tc.csr, tc.id, tc.nb, tc.na); err == nil {
				t.Fatal("issued")
			}
		})
	}
}

func TestEnrolToken(t *testing.T) {
	ca, _ := NewCA("test", time.Now(), time.Hour)
	tok, err := NewEnrolToken(ca)
	if err != nil {
		t.Fatal(err)
	}
	s := tok.String()
	if !strings.HasPrefix(s, "vgl1.") || !strings.HasSuffix(s, "."+ca.SHA256()) {
		t.Fatalf("token %q", s)
	}
	got, err := ParseEnrolToken("  " + s + "\n")
	if err != nil || got != tok {
		t.Fatalf("ParseEnrolToken = %+v, %v; want %+v", got, err, tok)
	}
	if HashSecret(tok.Secret) == tok.Secret || len(HashSecret(tok.Secret)) != 64 {
		t.Fatal("HashSecret")
	}
	for _, bad := range []string{"", "vgl1", "vgl2." + tok.Secret + "." + tok.CAPin, "vgl1." + tok.Secret,
		"vgl1.!!!." + tok.CAPin, "vgl1.c2hvcnQ." + tok.CAPin, "vgl1." + tok.Secret + ".abcd", "vgl1." + tok.Secret + "." + tok.CAPin + ".x"} {
		if _, err := ParseEnrolToken(bad); err == nil {
			t.Errorf("ParseEnrolToken(%q) succeeded", bad)
		}
	}
}

// FuzzParseEnrolToken: whatever the user pastes, parsing either fails or
// gives a token that formats back to an equivalent string.
func FuzzParseEnrolToken(f *testing.F) {
	f.Add("vgl1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA." + strings.Repeat("ab", 32))
	f.Add("vgl1..")
	f.Add("vgl1.x.y.z")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseEnrolToken(s)
		if err != nil {
			return
		}
		again, err := ParseEnrolToken(tok.String())
		if err != nil || again != tok {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}
