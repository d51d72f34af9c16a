// Package linktest starts a real link server for tests: a SQLite store and
// a CA in temporary directories, served on a loopback port.
package linktest

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/pki"
	"github.com/vigilsec/vigil/internal/server/link"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlite"
)

// Env is a running link server.
type Env struct {
	Dir    string // data directory: CA files and vigil.db
	Store  store.Store
	CA     *pki.CA
	Server *link.Server
	Addr   string // 127.0.0.1:port
	done   chan error
}

// Start opens a store and CA in dir (a new temporary directory when dir is
// "") and serves the link on addr ("127.0.0.1:0" when ""). configure may
// adjust the options. Everything stops at the end of the test.
func Start(t testing.TB, dir, addr string, configure func(*link.Options)) *Env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ctx := context.Background()
	st, err := sqlite.OpenDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	o := link.Options{Store: st, CA: ca, TaskPollInterval: 100 * time.Millisecond}
	if configure != nil {
		configure(&o)
	}
	srv, err := link.NewServer(o)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	e := &Env{Dir: dir, Store: st, CA: ca, Server: srv, Addr: lis.Addr().String(), done: make(chan error, 1)}
	go func() { e.done <- srv.Serve(lis) }()
	t.Cleanup(e.Stop)
	return e
}

// Stop stops the server and closes the store; it may be called twice.
func (e *Env) Stop() {
	if e.done == nil {
		return
	}
	e.Server.Stop()
	<-e.done
	e.done = nil
	e.Store.Close()
}

// Token creates an enrolment token valid for an hour and returns the
// string the user would paste.
func (e *Env) Token(t testing.TB) string {
	t.Helper()
	return NewToken(t, e.Store, e.CA)
}

// NewToken creates an enrolment token in st pinning ca.
func NewToken(t testing.TB, st store.Store, ca *pki.CA) string {
	t.Helper()
	tok, err := pki.NewEnrolToken(ca)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.CreateEnrolToken(context.Background(), store.EnrolToken{Hash: pki.HashSecret(tok.Secret), Name: "test",
		CreatedBy: "admin", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return tok.String()
}
