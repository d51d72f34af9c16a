package osv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/vuln/epss"
	"github.com/vigilsec/vigil/internal/vuln/kev"
)

// Layout of the database inside a data directory:
//
//	<data-dir>/vulndb          symlink to the live generation, e.g. "vulndb.g1732712345000000000"
//	<data-dir>/vulndb.g<N>/    meta.json, <Ecosystem>.osvidx per base ecosystem, kev.json, epss.bin
//	<data-dir>/vulndb.lock     held (flock) by the one writer
//	<data-dir>/vulndb.tmp-*/   a generation being built; removed by the next writer if left by a crash
//
// Writers build a complete new generation, fsync it, and swap the symlink
// with rename(2), so readers see either the old or the new database,
// never a mix, and a failed or crashed import leaves the old one live.
const (
	DirName     = "vulndb"
	lockName    = DirName + ".lock"
	genPrefix   = DirName + ".g"
	tmpPrefix   = DirName + ".tmp-"
	linkTmpName = "." + DirName + ".link"
	metaName    = "meta.json"
	kevName     = "kev.json"
	epssName    = "epss.bin"

	formatVersion = 1
)

// ErrNoDatabase is returned (wrapped) by Open when the data directory
// has no database yet.
var ErrNoDatabase = errors.New("no vulnerability database (import or update one first)")

// meta is meta.json: what the generation holds and where it came from.
type meta struct {
	Format     int                         `json:"format"`
	Ecosystems map[string]*EcosystemStatus `json:"ecosystems"`
	KEV        *KEVStatus                  `json:"kev,omitempty"`
	EPSS       *EPSSStatus                 `json:"epss,omitempty"`
}

// EcosystemStatus describes one base ecosystem's records.
type EcosystemStatus struct {
	Ecosystem string `json:"ecosystem"`
	Records   int    `json:"records"`
	Packages  int    `json:"packages"`
	Withdrawn int    `json:"withdrawn"`
	// Imported is when the ecosystem was last written; Sources are the
	// paths or URLs it was last imported from.
	Imported time.Time `json:"imported"`
	Sources  []string  `json:"sources"`
	// ETag and LastModified are the HTTP validators of the last download
	// (Update), sent back to skip an unchanged export.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	File         string `json:"file"`
}

// KEVStatus describes the imported CISA KEV catalogue.
type KEVStatus struct {
	Entries        int       `json:"entries"`
	CatalogVersion string    `json:"catalog_version,omitempty"`
	DateReleased   time.Time `json:"date_released,omitzero"`
	Imported       time.Time `json:"imported"`
	Source         string    `json:"source"`
	ETag           string    `json:"etag,omitempty"`
	LastModified   string    `json:"last_modified,omitempty"`
}

// EPSSStatus describes the imported EPSS scores.
type EPSSStatus struct {
	Rows         int       `json:"rows"`
	ModelVersion string    `json:"model_version,omitempty"`
	ScoreDate    time.Time `json:"score_date,omitzero"`
	Imported     time.Time `json:"imported"`
	Source       string    `json:"source"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
}

// Status is what `vigil db status` shows.
type Status struct {
	// Dir is the live generation directory.
	Dir        string            `json:"dir"`
	Ecosystems []EcosystemStatus `json:"ecosystems"`
	KEV        *KEVStatus        `json:"kev,omitempty"`
	EPSS       *EPSSStatus       `json:"epss,omitempty"`
}

// DB is an opened, read-only database. It is safe for concurrent use and
// keeps reading the generation it opened even if a writer swaps in a new
// one meanwhile.
type DB struct {
	dir  string
	meta meta

	mu      sync.RWMutex
	closed  bool
	maps    [][]byte
	indexes map[string]*index // by base ecosystem
	epss    epssTable

	kevOnce sync.Once
	kevData []byte
	kev     *kev.Catalog
	kevErr  error
}

// Open opens the live database in dataDir. It returns an error wrapping
// ErrNoDatabase when there is none. Opening maps the index files; records
// are decoded only when looked up.
func Open(dataDir string) (*DB, error) {
	var err error
	for range 3 { // a concurrent writer may remove the generation we resolved
		var db *DB
		db, err = open(dataDir)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNoDatabase) {
			return db, err
		}
	}
	return nil, err
}

func open(dataDir string) (*DB, error) {
	link := filepath.Join(dataDir, DirName)
	target, err := os.Readlink(link)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dataDir, ErrNoDatabase)
	}
	if err != nil {
		return nil, fmt.Errorf("open vulnerability database: %w", err)
	}
	if filepath.IsAbs(target) || strings.ContainsRune(target, '/') || !strings.HasPrefix(target, genPrefix) {
		return nil, fmt.Errorf("open vulnerability database: %s points to %q, not a generation", link, target)
	}
	db := &DB{dir: filepath.Join(dataDir, target), indexes: map[string]*index{}}
	if err := db.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open vulnerability database %s: %w", db.dir, err)
	}
	return db, nil
}

func (db *DB) load() error {
	b, err := os.ReadFile(filepath.Join(db.dir, metaName))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &db.meta); err != nil {
		return fmt.Errorf("%s: %w", metaName, err)
	}
	if db.meta.Format != formatVersion {
		return fmt.Errorf("%s: format %d, want %d (re-import the database)", metaName, db.meta.Format, formatVersion)
	}
	for eco, st := range db.meta.Ecosystems {
		if st.File != fileName(eco) {
			return fmt.Errorf("%s: ecosystem %q: bad file name %q", metaName, eco, st.File)
		}
		m, err := db.mmap(st.File)
		if err != nil {
			return err
		}
		x, err := parseIndex(m)
		if err != nil {
			return fmt.Errorf("%s: %w", st.File, err)
		}
		db.indexes[eco] = x
	}
	if db.meta.EPSS != nil {
		m, err := db.mmap(epssName)
		if err != nil {
			return err
		}
		if db.epss, err = parseEPSS(m); err != nil {
			return fmt.Errorf("%s: %w", epssName, err)
		}
	}
	if db.meta.KEV != nil {
		if db.kevData, err = os.ReadFile(filepath.Join(db.dir, kevName)); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) mmap(name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(db.dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 || fi.Size() > 1<<34 {
		return nil, fmt.Errorf("%s: %w: size %d", name, errCorrupt, fi.Size())
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", name, err)
	}
	db.maps = append(db.maps, m)
	return m, nil
}

// Close unmaps the database. Results already returned stay valid.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	var errs []error
	for _, m := range db.maps {
		errs = append(errs, unix.Munmap(m))
	}
	db.maps, db.indexes, db.epss = nil, nil, nil
	return errors.Join(errs...)
}

var errClosed = errors.New("vulnerability database is closed")

// Lookup returns the records affecting a package. ecosystem may carry a
// release ("Debian:12"); the database is keyed by the base ecosystem, so
// records for every release come back and each returned Affected entry
// keeps its full ecosystem for the matcher to filter. name is normalised
// with NormalizeName; for Debian and Ubuntu it is the source package.
//
// Each returned Vulnerability holds only the Affected entries for this
// package and no Details, References or DatabaseSpecific (the index does
// not keep them). Withdrawn records are returned too, with Withdrawn
// set: the caller decides to ignore them. Results are sorted by ID.
func (db *DB) Lookup(ecosystem, name string) ([]Vulnerability, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, errClosed
	}
	base := BaseEcosystem(ecosystem)
	x := db.indexes[base]
	if x == nil {
		return nil, nil
	}
	v, ok, err := x.find(x.pkgs, x.npkg, NormalizeName(base, name))
	if err != nil || !ok {
		return nil, wrapCorrupt(base, err)
	}
	groups, err := decodeGroups(v)
	if err != nil {
		return nil, wrapCorrupt(base, err)
	}
	out := make([]Vulnerability, 0, len(groups))
	for _, g := range groups {
		_, hdr, err := x.record(g.rec)
		if err != nil {
			return nil, wrapCorrupt(base, err)
		}
		var vuln Vulnerability
		if err := decodeHeader(hdr, &vuln); err != nil {
			return nil, wrapCorrupt(base, err)
		}
		vuln.Affected = make([]Affected, len(g.affs))
		for i, a := range g.affs {
			if err := decodeAffected(a, &vuln.Affected[i]); err != nil {
				return nil, wrapCorrupt(base, err)
			}
		}
		out = append(out, vuln)
	}
	return out, nil
}

func wrapCorrupt(base string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ecosystem %q: %w", base, err)
}

// Aliases returns the IDs of the records that list id (a CVE or GHSA ID)
// among their aliases or upstream IDs, over all ecosystems, sorted.
func (db *DB) Aliases(id string) ([]string, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, errClosed
	}
	var out []string
	for base, x := range db.indexes {
		v, ok, err := x.find(x.aliases, x.nalias, id)
		if err != nil {
			return nil, wrapCorrupt(base, err)
		}
		if ok {
			out = append(out, strings.Split(string(v), "\n")...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// KEV returns the CISA KEV entry for a CVE ID, if the catalogue lists it.
func (db *DB) KEV(cve string) (kev.Entry, bool, error) {
	db.kevOnce.Do(func() {
		if db.kevData == nil {
			return
		}
		db.kev = new(kev.Catalog)
		if err := json.Unmarshal(db.kevData, db.kev); err != nil {
			db.kevErr = fmt.Errorf("%s: %w", kevName, err)
		}
		db.kevData = nil
	})
	if db.kevErr != nil || db.kev == nil {
		return kev.Entry{}, false, db.kevErr
	}
	e, ok := db.kev.Lookup(cve)
	return e, ok, nil
}

// EPSS returns the EPSS score of a CVE ID, if scored.
func (db *DB) EPSS(cve string) (epss.Score, bool, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return epss.Score{}, false, errClosed
	}
	s, ok := db.epss.lookup(cve)
	return s, ok, nil
}

// Status describes what the database holds, ecosystems sorted by name.
func (db *DB) Status() Status {
	s := Status{Dir: db.dir, KEV: db.meta.KEV, EPSS: db.meta.EPSS}
	for _, e := range db.meta.Ecosystems {
		s.Ecosystems = append(s.Ecosystems, *e)
	}
	slices.SortFunc(s.Ecosystems, func(a, b EcosystemStatus) int { return strings.Compare(a.Ecosystem, b.Ecosystem) })
	return s
}

// Ecosystems lists the base ecosystems the database holds, sorted.
func (db *DB) Ecosystems() []string {
	var out []string
	for e := range db.meta.Ecosystems {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}
