// Package pgtest starts a private PostgreSQL cluster for tests and
// benchmarks: initdb into a temporary directory (as the postgres user when
// running as root), pg_ctl start on 127.0.0.1 with a free port and a
// private socket directory, and stop and remove at the end.
//
// When VIGIL_TEST_POSTGRES_DSN is set (scripts/start-postgres.sh prints
// one), that server is used instead and each test gets a fresh database in
// it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigilsec/vigil/internal/testutil"
)

// EnvDSN names an existing server to use instead of starting one.
const EnvDSN = "VIGIL_TEST_POSTGRES_DSN"

// Cluster is a running PostgreSQL server.
type Cluster struct {
	// DSN is the admin connection string (database "postgres").
	DSN  string
	dir  string
	bin  string
	uid  *user.User
	mine bool
}

// ErrNoPostgres: the PostgreSQL server binaries are not installed.
var ErrNoPostgres = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found")

// BinDir finds the newest /usr/lib/postgresql/*/bin holding initdb, or the
// directory of initdb on PATH.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	if len(dirs) > 0 {
		return filepath.Dir(dirs[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoPostgres
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// Options tune a started cluster.
type Options struct {
	// Fsync keeps fsync on (benchmarks); tests turn it off for speed.
	Fsync bool
}

// Start starts a cluster, or attaches to EnvDSN when set.
func Start(ctx context.Context, opt Options) (*Cluster, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return &Cluster{DSN: dsn}, nil
	}
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, mine: true}
	if os.Geteuid() == 0 {
		if c.uid, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user to run the server: %w", err)
		}
	}
	if c.dir, err = os.MkdirTemp("", "vigil-pgtest-"); err != nil {
		return nil, err
	}
	if err := c.start(ctx, opt); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, opt Options) error {
	data, sock := filepath.Join(c.dir, "data"), filepath.Join(c.dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return err
	}
	if c.uid != nil {
		uid, _ := strconv.Atoi(c.uid.Uid)
		gid, _ := strconv.Atoi(c.uid.Gid)
		for _, p := range []string{c.dir, sock} {
			if err := os.Chown(p, uid, gid); err != nil {
				return err
			}
		}
	}
	if out, err := c.run(ctx, "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	fsync := "off"
	if opt.Fsync {
		fsync = "on"
	}
	o := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=%s -c max_connections=50 -c shared_buffers=128MB", port, sock, fsync)
	if out, err := c.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(c.dir, "log"), "-o", o, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	c.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return nil
}

func (c *Cluster) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, tool)
	var cmd *exec.Cmd
	if c.uid != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = c.dir
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Stop stops a cluster this package started and removes its files.
func (c *Cluster) Stop() error {
	if !c.mine || c.dir == "" {
		return nil
	}
	var err error
	if _, statErr := os.Stat(filepath.Join(c.dir, "data", "postmaster.pid")); statErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, e := c.run(ctx, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop"); e != nil {
			err = fmt.Errorf("pg_ctl stop: %w\n%s", e, out)
		}
	}
	return errors.Join(err, os.RemoveAll(c.dir))
}

// NewDatabase creates an empty database and returns its DSN and a function
// that drops it.
func (c *Cluster) NewDatabase(ctx context.Context) (dsn string, drop func() error, err error) {
	var b [6]byte
	rand.Read(b[:])
	name := "vigil_test_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		return "", nil, fmt.Errorf("connect to test server: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(c.DSN)
	if err != nil || u.Scheme == "" {
		// A key=value DSN: append the database name.
		dsn = strings.TrimSpace(c.DSN) + " dbname=" + name
	} else {
		u.Path = "/" + name
		dsn = u.String()
	}
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, c.DSN)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return err
	}
	return dsn, drop, nil
}

// Main is for TestMain: it starts a cluster (nil with the reason when
// PostgreSQL is not installed), runs the tests and stops the cluster.
func Main(m *testing.M, opt Options) (code int) {
	c, err := Start(context.Background(), opt)
	if err != nil {
		startErr = err
	} else {
		shared = c
		defer func() {
			if err := c.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "pgtest:", err)
				if code == 0 {
					code = 1
				}
			}
		}()
	}
	return m.Run()
}

var (
	shared   *Cluster
	startErr error
)

// Require returns the cluster Main started. Without PostgreSQL binaries it
// skips the test (fails with VIGIL_REQUIRE_TOOLS=1); when the cluster
// failed to start it fails the test.
func Require(t testing.TB) *Cluster {
	t.Helper()
	if shared == nil && startErr == nil {
		t.Fatal("pgtest.Require without pgtest.Main in TestMain")
	}
	if errors.Is(startErr, ErrNoPostgres) {
		testutil.Require(t, "VIGIL_REQUIRE_TOOLS", false, startErr.Error())
	}
	if startErr != nil {
		t.Fatalf("start PostgreSQL: %v", startErr)
	}
	return shared
}
