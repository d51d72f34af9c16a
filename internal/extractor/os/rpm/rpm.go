// Package rpm extracts installed packages from rpm databases: BerkeleyDB
// "Packages" (RHEL/CentOS 7-8, older SUSE), NDB "Packages.db" (SUSE) and
// SQLite "rpmdb.sqlite" (RHEL 9, Fedora 33+), under var/lib/rpm or
// usr/lib/sysimage/rpm.
//
// The SQLite backend is read with github.com/knqyf263/go-rpmdb. Its
// BerkeleyDB and NDB readers run in goroutines of their own that panic
// (index out of range), loop forever (an overflow chain through a page of
// another type) or allocate whatever a corrupt length says, none of which
// a caller can recover from, so this package reads those two formats
// itself (internal/rpmfmt), bounds-checked, following go-rpmdb's layout.
// Package headers are decoded there too: go-rpmdb's ListPackages stops at the first
// bad header and leaves its reader goroutine blocked forever, and it does
// not decode the Packager tag.
package rpm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/knqyf263/go-rpmdb/pkg/sqlite3"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver go-rpmdb opens

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/os/rpm/internal/rpmfmt"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "os/rpm"

// Dirs are the directories rpm keeps its database in; Fedora and SUSE make
// var/lib/rpm a symlink to usr/lib/sysimage/rpm.
var Dirs = []string{"var/lib/rpm", "usr/lib/sysimage/rpm"}

// Files are the database files of the three backends, in the order rpm
// prefers them when several are present: sqlite, ndb, bdb.
var Files = []string{"rpmdb.sqlite", "Packages.db", "Packages"}

// Extractor reads rpm databases.
type Extractor struct{}

// New returns the rpm extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether path is an rpm database file in one of Dirs.
func (*Extractor) FileRequired(p string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	dir, file := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	return (dir == Dirs[0] || dir == Dirs[1]) &&
		(file == Files[0] || file == Files[1] || file == Files[2])
}

// Extract reads every package of one rpm database; gpg-pubkey entries
// (imported signing keys) are skipped. The database is opened in place
// when ScanInput.RootPath is set, else copied from Reader to a temporary
// file first. A database that cannot be opened or walked is an error
// naming the file; a package header that cannot be decoded is a problem,
// and the other packages are still returned.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	source := "/" + in.Path
	dbPath := ""
	if in.RootPath != "" {
		dbPath = filepath.Join(in.RootPath, filepath.FromSlash(in.Path))
	} else {
		dir, err := os.MkdirTemp("", "vigil-rpmdb-")
		if err != nil {
			return nil, fmt.Errorf("copy rpm database %q: %w", source, err)
		}
		// RemoveAll: SQLite may leave -wal and -shm files beside the copy.
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, path.Base(in.Path))
		if err := copyTo(dbPath, in.Reader); err != nil {
			return nil, fmt.Errorf("copy rpm database %q: %w", source, err)
		}
	}

	inv := &inventory.Inventory{}
	var problems plugin.Problems
	n := 0
	err := readDB(ctx, dbPath, func(blob []byte) {
		n++
		h, err := rpmfmt.ParseHeader(blob)
		if err != nil {
			problems.Addf("%s: header %d: %v", source, n, err)
			return
		}
		if h.Name == "gpg-pubkey" {
			return
		}
		p, err := h.Package(source)
		if err != nil {
			problems.Addf("%s: package %q: %v", source, h.Name, err)
		}
		inv.Packages = append(inv.Packages, p)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("read rpm database %q: %w", source, err)
	}
	return inv, problems.Err()
}

func copyTo(dst string, r io.Reader) error {
	if r == nil {
		return errors.New("no reader")
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sqliteMagic starts every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// readDB calls fn with every package header blob of the database at
// dbPath, whichever backend wrote it.
func readDB(ctx context.Context, dbPath string, fn func([]byte)) error {
	f, err := os.Open(dbPath)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	var head [rpmfmt.BDBMetaSize]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	switch b := head[:n]; {
	case len(b) >= len(sqliteMagic) && string(b[:len(sqliteMagic)]) == string(sqliteMagic):
		f.Close()
		return readSQLite(ctx, dbPath, fn)
	case rpmfmt.IsNDB(b):
		return rpmfmt.ReadNDB(ctx, f, info.Size(), fn)
	case rpmfmt.IsBDB(b):
		return rpmfmt.ReadBDB(ctx, f, info.Size(), fn)
	case n == 0:
		return errors.New("empty file")
	}
	return errors.New("not an rpm database: unknown format (not sqlite, ndb or bdb)")
}

// readSQLite reads the Packages table through go-rpmdb. Its reader
// goroutine sends on an unbuffered channel and may send several errors,
// so the channel is always drained to the end.
func readSQLite(ctx context.Context, dbPath string, fn func([]byte)) error {
	db, err := sqlite3.Open(dbPath)
	if err != nil {
		return err
	}
	var first error
	for e := range db.Read() {
		switch {
		case first != nil:
		case e.Err != nil:
			first = e.Err
		case ctx.Err() != nil:
			first = ctx.Err()
		default:
			fn(e.Value)
		}
	}
	// Read closes the database itself; a second Close is harmless.
	_ = db.Close()
	return first
}
