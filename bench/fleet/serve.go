package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/server"
)

// roleEnv makes the binary (or the test binary) the server child.
const roleEnv = "VIGIL_FLEET_ROLE"

// pprofEnv, when set to a loopback host:port, makes the server child serve
// net/http/pprof there (to see where the server's memory goes).
const pprofEnv = "VIGIL_FLEET_PPROF"

func servePprof(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s=%q: want a loopback host:port", pprofEnv, addr)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go http.Serve(lis, mux)
	return nil
}

// serverStats is what the server child answers to "stats": the link's
// counters of new records stored, and hosts online.
type serverStats struct {
	Alerts      uint64 `json:"alerts"`
	Events      uint64 `json:"events"`
	Inventories uint64 `json:"inventories"`
	Online      int    `json:"online"`
	Batches     uint64 `json:"batches"` // upload batches stored
	Commits     uint64 `json:"commits"` // transactions they took
}

// serveMain is the server child: `vigil server` in its own process (so its
// RSS and CPU are its own). It mints -tokens enrolment tokens through
// server.CreateEnrolToken into -tokens-file, serves on loopback, prints
// "READY <agent addr>", then answers each "stats" line on stdin with a
// JSON line and stops when stdin closes.
func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dir := fs.String("dir", "", "data directory")
	st := fs.String("store", "", "postgres:// URL, or empty for SQLite in -dir")
	n := fs.Int("tokens", 0, "enrolment tokens to mint")
	tokFile := fs.String("tokens-file", "", "where to write the tokens, one a line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *tokFile == "" {
		return errors.New("serve: -dir and -tokens-file are required")
	}
	if err := raiseNoFile(); err != nil {
		return err
	}
	if addr := os.Getenv(pprofEnv); addr != "" {
		if err := servePprof(addr); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.Open(ctx, server.Config{DataDir: *dir, Listen: "127.0.0.1:0", AgentListen: "127.0.0.1:0", Store: *st, Logger: logger})
	if err != nil {
		return err
	}
	var b strings.Builder
	for i := range *n {
		tok, err := srv.CreateEnrolToken(ctx, fmt.Sprintf("fleet-%d", i), "bench", 6*time.Hour)
		if err != nil {
			srv.Store.Close()
			return fmt.Errorf("mint token %d: %w", i, err)
		}
		b.WriteString(tok)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(*tokFile, []byte(b.String()), 0o600); err != nil {
		srv.Store.Close()
		return err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Listening():
	case err := <-done:
		return err
	}
	fmt.Printf("READY %s\n", srv.AgentAddr())
	in := bufio.NewScanner(os.Stdin)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		if in.Text() != "stats" {
			return fmt.Errorf("serve: unknown command %q", in.Text())
		}
		s := srv.Link.Stats()
		if err := enc.Encode(serverStats{Alerts: s.Alerts, Events: s.Events, Inventories: s.Inventories, Online: s.Online,
			Batches: s.Batches, Commits: s.Commits}); err != nil {
			return err
		}
	}
	cancel()
	return <-done
}
