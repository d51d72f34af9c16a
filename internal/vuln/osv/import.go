package osv

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/vuln/epss"
	"github.com/vigilsec/vigil/internal/vuln/kev"
)

// Limits bound what one import reads; zero fields take the defaults.
type Limits struct {
	// MaxZipEntries bounds the entries of one zip archive (default
	// 2,000,000; the largest OSV export, npm, has about 200,000).
	MaxZipEntries int
	// MaxFiles bounds the files walked in one directory tree (default
	// 2,000,000).
	MaxFiles int
	// MaxRecordSize bounds one record, whatever a zip header claims
	// (default MaxRecordSize). A larger record is skipped.
	MaxRecordSize int64
	// MaxTotalSize bounds the uncompressed bytes of all records of one
	// import (default 8 GiB); past it the import fails.
	MaxTotalSize int64
	// MaxEcosystems bounds the distinct base ecosystems (default 1,000).
	MaxEcosystems int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&l.MaxZipEntries, 2_000_000)
	defInt(&l.MaxFiles, 2_000_000)
	def(&l.MaxRecordSize, MaxRecordSize)
	def(&l.MaxTotalSize, 8<<30)
	defInt(&l.MaxEcosystems, 1000)
	return l
}

// Options configure Import and Update.
type Options struct {
	Limits Limits
	// Workers decode records in parallel (default GOMAXPROCS).
	Workers int
}

// Report says what an import or update did.
type Report struct {
	// Records is the number of records indexed; Skipped the malformed
	// ones; Duplicates the records seen more than once (the one with the
	// latest modified time is kept); Unindexed the valid records that
	// name no package.
	Records    int `json:"records"`
	Skipped    int `json:"skipped"`
	Duplicates int `json:"duplicates"`
	Unindexed  int `json:"unindexed"`
	// Ecosystems are the base ecosystems written, sorted.
	Ecosystems []string `json:"ecosystems"`
	// NotModified lists Update sources the server said were unchanged.
	NotModified []string `json:"not_modified,omitempty"`
	KEV         int      `json:"kev,omitempty"`
	EPSS        int      `json:"epss,omitempty"`
	// Duration is the wall time of the whole import.
	Duration time.Duration `json:"duration"`
}

// Import adds the OSV records, KEV catalogue and EPSS scores found at
// paths to the database in dataDir, creating it if needed. A path may
// be:
//   - a zip of records (an OSV ecosystem export all.zip, or a zip of
//     YAML/JSON records in any folder layout);
//   - a directory, walked recursively for *.json, *.yaml and *.yml
//     records (symlinks are not followed);
//   - one *.json or *.yaml/*.yml record; a *.json holding a CISA KEV
//     catalogue is imported as such;
//   - EPSS scores, *.csv or *.csv.gz.
//
// Records are merged into their ecosystems: a record replaces the stored
// record with the same ID, others stay. (Update instead replaces a whole
// ecosystem with its export.) Within one import, a record seen twice
// keeps its latest modified version.
//
// The new database is built aside and swapped in atomically; if any
// source cannot be read, nothing changes and the error says why. A
// malformed record is skipped and named in a *plugin.PartialError
// ("all.zip: GO-2024-1234.json: invalid character ...") returned with the
// report of the committed import. It may return an error wrapping
// ErrLocked.
func Import(ctx context.Context, dataDir string, paths []string, opts *Options) (*Report, error) {
	if len(paths) == 0 {
		return nil, errors.New("import: no paths")
	}
	t, err := begin(dataDir)
	if err != nil {
		return nil, err
	}
	defer t.Abort()
	im := newImporter(opts, t)
	err = im.run(ctx, func(ctx context.Context, submit func(job) bool) error {
		for _, p := range paths {
			if err := im.addPath(ctx, p, submit); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return im.finish()
}

// job is one record to decode.
type job struct {
	seq   int
	name  string // "all.zip: GO-2024-1234.json", for errors
	src   string // the source (path or URL) for Status
	yaml  bool
	scope string // when set, keep only affected entries of this base ecosystem
	data  []byte // the record, or
	file  *zip.File
	errs  *readErr // I/O errors of the archive file was read from
	err   error    // a record error found while reading it
}

type result struct {
	seq   int
	name  string
	src   string
	rec   *compactRec
	err   error // record error: skipped
	fatal error // source error: the import fails
}

// compactRec is a record as the index stores it.
type compactRec struct {
	indexRecord
	modified time.Time
	affs     []compactAff
}

type compactAff struct {
	base, key string
	data      []byte
}

type importer struct {
	t       *txn
	lim     Limits
	workers int
	start   time.Time
	total   atomic.Int64
	closers []io.Closer

	recs     map[string]*compactRec
	recSeq   map[string]int
	recSrc   map[string]string
	problems plugin.Problems
	report   Report
	nresults int

	// replace marks ecosystems that Update replaces whole, with the HTTP
	// validators of their download; keep marks unchanged ones (HTTP 304).
	replace map[string]*EcosystemStatus

	// feedProblems are KEV and EPSS entry problems, kept apart from
	// problems because the producer goroutine records them.
	feedProblems []string

	kev      *kev.Catalog
	kevStat  *KEVStatus
	epss     *epss.Scores
	epssStat *EPSSStatus
}

func newImporter(opts *Options, t *txn) *importer {
	if opts == nil {
		opts = &Options{}
	}
	w := opts.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	return &importer{
		t: t, lim: opts.Limits.withDefaults(), workers: w, start: time.Now(),
		recs: map[string]*compactRec{}, recSeq: map[string]int{}, recSrc: map[string]string{},
		replace: map[string]*EcosystemStatus{},
	}
}

// testHookRecord, when set by a test, is called after each record is
// merged, with the count so far.
var testHookRecord func(n int)

// run decodes the records produce submits, on im.workers goroutines, and
// merges them. It returns the first source error.
func (im *importer) run(ctx context.Context, produce func(ctx context.Context, submit func(job) bool) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan job, 4*im.workers)
	results := make(chan result, 4*im.workers)
	var wg sync.WaitGroup
	for range im.workers {
		wg.Go(func() {
			for j := range jobs {
				results <- im.process(ctx, j)
			}
		})
	}
	go func() {
		seq := 0
		submit := func(j job) bool {
			j.seq = seq
			seq++
			select {
			case jobs <- j:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if err := produce(ctx, submit); err != nil {
			cancel(err)
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	for r := range results {
		if ctx.Err() != nil {
			continue
		}
		if r.fatal != nil {
			cancel(r.fatal)
			continue
		}
		im.merge(r)
		im.nresults++
		if testHookRecord != nil {
			testHookRecord(im.nresults)
		}
	}
	for _, c := range im.closers {
		c.Close()
	}
	im.closers = nil
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

func (im *importer) merge(r result) {
	if r.err != nil {
		im.report.Skipped++
		im.problems.Addf("%s: %v", r.name, r.err)
		return
	}
	id := r.rec.id
	if prev, ok := im.recs[id]; ok {
		im.report.Duplicates++
		if r.rec.modified.Before(prev.modified) || (r.rec.modified.Equal(prev.modified) && r.seq < im.recSeq[id]) {
			return
		}
	}
	im.recs[id], im.recSeq[id], im.recSrc[id] = r.rec, r.seq, r.src
}

// process reads and decodes one job.
func (im *importer) process(ctx context.Context, j job) result {
	r := result{seq: j.seq, name: j.name, src: j.src}
	if ctx.Err() != nil {
		return r
	}
	if j.err != nil {
		r.err = j.err
		return r
	}
	data := j.data
	if j.file != nil {
		var err error
		data, err = im.readZipEntry(j.file)
		if ioErr := j.errs.get(); ioErr != nil {
			r.fatal = fmt.Errorf("%s: %w", j.name, ioErr)
			return r
		}
		if err != nil {
			r.err = err
			return r
		}
	}
	if n := im.total.Add(int64(len(data))); n > im.lim.MaxTotalSize {
		r.fatal = fmt.Errorf("%s: import larger than %d bytes", j.name, im.lim.MaxTotalSize)
		return r
	}
	var v *Vulnerability
	var err error
	if j.yaml {
		v, err = DecodeYAML(data)
	} else {
		v, err = DecodeJSON(data)
	}
	if err != nil {
		r.err = err
		return r
	}
	r.rec, r.err = compact(v, j.scope)
	return r
}

func (im *importer) readZipEntry(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > uint64(im.lim.MaxRecordSize) {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, im.lim.MaxRecordSize)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readBounded(rc, im.lim.MaxRecordSize, int64(f.UncompressedSize64))
}

var errTooLarge = errors.New("record too large")

func readBounded(r io.Reader, limit, hint int64) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(hint, limit)+1))
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, limit)
	}
	return buf.Bytes(), nil
}

// compact keeps what the index stores: the record without affected,
// details, references and database_specific, and each affected entry
// that names a package (within scope, when set).
func compact(v *Vulnerability, scope string) (*compactRec, error) {
	hdr := encodeHeader(v)
	c := &compactRec{
		indexRecord: indexRecord{id: v.ID, hdr: hdr, withdrawn: !v.Withdrawn.IsZero()},
		modified:    v.Modified,
	}
	c.refs = append(append(c.refs, v.Aliases...), v.Upstream...)
	for i := range v.Affected {
		a := &v.Affected[i]
		if a.Package.Ecosystem == "" || a.Package.Name == "" {
			continue // GIT-only or malformed entries name no package to look up
		}
		base := BaseEcosystem(a.Package.Ecosystem)
		if scope != "" && base != scope {
			continue
		}
		if len(base) > 64 || strings.ContainsFunc(base, func(r rune) bool { return !unicode.IsPrint(r) }) {
			return nil, fmt.Errorf("affected[%d]: ecosystem %q: not an ecosystem name", i, truncate(base))
		}
		data, err := encodeAffected(a)
		if err != nil {
			return nil, fmt.Errorf("affected[%d]: %w", i, err)
		}
		c.affs = append(c.affs, compactAff{base: base, key: NormalizeName(base, a.Package.Name), data: data})
	}
	return c, nil
}

// readErr records the first I/O error of an archive's underlying file,
// so an unreadable archive fails the import instead of looking like
// malformed records.
type readErr struct {
	mu  sync.Mutex
	err error
}

func (e *readErr) get() error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

type trackingReaderAt struct {
	r    io.ReaderAt
	errs *readErr
}

func (t trackingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		t.errs.mu.Lock()
		if t.errs.err == nil {
			t.errs.err = err
		}
		t.errs.mu.Unlock()
	}
	return n, err
}

// addZip submits the records of a zip archive. label names the archive
// in errors; src is recorded as the ecosystems' source.
func (im *importer) addZip(ctx context.Context, r io.ReaderAt, size int64, label, src, scope string, submit func(job) bool) error {
	errs := &readErr{}
	zr, err := zip.NewReader(trackingReaderAt{r, errs}, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // names are only used in messages
		return fmt.Errorf("%s: %w", label, err)
	}
	if len(zr.File) > im.lim.MaxZipEntries {
		return fmt.Errorf("%s: more than %d entries", label, im.lim.MaxZipEntries)
	}
	for _, f := range zr.File {
		if ctx.Err() != nil {
			return nil
		}
		isYAML, ok := recordExt(f.Name)
		if !ok || f.FileInfo().IsDir() {
			continue
		}
		if !submit(job{name: label + ": " + f.Name, src: src, yaml: isYAML, scope: scope, file: f, errs: errs}) {
			return nil
		}
	}
	return nil
}

// recordExt says whether name is a record file, and whether it is YAML.
func recordExt(name string) (isYAML, ok bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return false, true
	case ".yaml", ".yml":
		return true, true
	}
	return false, false
}

// addPath submits the records at one Import path, and reads a KEV
// catalogue or EPSS scores found there.
func (im *importer) addPath(ctx context.Context, path string, submit func(job) bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	src := path // recorded in Status: absolute, so it means something later
	if abs, err := filepath.Abs(path); err == nil {
		src = abs
	}
	if fi.IsDir() {
		return im.addDir(ctx, path, src, submit)
	}
	lower := strings.ToLower(path)
	switch {
	case strings.HasSuffix(lower, ".zip"):
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		im.closers = append(im.closers, f)
		return im.addZip(ctx, f, fi.Size(), filepath.Base(path), src, "", submit)
	case strings.HasSuffix(lower, ".csv"), strings.HasSuffix(lower, ".csv.gz"):
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return im.setEPSS(f, src, "", "")
	case strings.HasSuffix(lower, ".json"):
		data, err := readFile(path, max(im.lim.MaxRecordSize, kev.MaxSize))
		if err != nil && !errors.Is(err, errTooLarge) {
			return err
		}
		if err == nil && isKEV(data) {
			return im.setKEV(bytes.NewReader(data), src, "", "")
		}
		if err == nil && int64(len(data)) > im.lim.MaxRecordSize {
			err = fmt.Errorf("%w: more than %d bytes", errTooLarge, im.lim.MaxRecordSize)
		}
		submit(job{name: path, src: src, data: data, err: err})
		return nil
	case strings.HasSuffix(lower, ".yaml"), strings.HasSuffix(lower, ".yml"):
		data, err := readFile(path, im.lim.MaxRecordSize)
		if err != nil && !errors.Is(err, errTooLarge) {
			return err
		}
		submit(job{name: path, src: src, yaml: true, data: data, err: err})
		return nil
	}
	return fmt.Errorf("%s: not an OSV zip, record, directory, KEV .json or EPSS .csv[.gz]", path)
}

func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readBounded(f, limit, 0)
	if err != nil && !errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, err
}

// isKEV says whether a JSON document is a KEV catalogue rather than an
// OSV record.
func isKEV(data []byte) bool {
	var probe struct {
		ID              string          `json:"id"`
		CatalogVersion  *string         `json:"catalogVersion"`
		Vulnerabilities json.RawMessage `json:"vulnerabilities"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.ID == "" && probe.CatalogVersion != nil && probe.Vulnerabilities != nil
}

func (im *importer) addDir(ctx context.Context, root, src string, submit func(job) bool) error {
	n := 0
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return fs.SkipAll
		}
		isYAML, ok := recordExt(p)
		if !ok || !d.Type().IsRegular() {
			return nil
		}
		if n++; n > im.lim.MaxFiles {
			return fmt.Errorf("%s: more than %d files", root, im.lim.MaxFiles)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		data, err := readBounded(f, im.lim.MaxRecordSize, 0)
		f.Close()
		j := job{name: p, src: src, yaml: isYAML, data: data, err: err}
		if err != nil && !errors.Is(err, errTooLarge) {
			return fmt.Errorf("%s: %w", p, err)
		}
		if !submit(j) {
			return fs.SkipAll
		}
		return nil
	})
}

func (im *importer) setKEV(r io.Reader, src, etag, lastMod string) error {
	if im.kev != nil {
		return fmt.Errorf("%s: a second KEV catalogue in one import", src)
	}
	c, err := kev.Parse(r)
	if err := im.partial(src, err); err != nil {
		return err
	}
	im.kev = c
	im.kevStat = &KEVStatus{Entries: len(c.Entries), CatalogVersion: c.CatalogVersion, DateReleased: c.DateReleased, Source: src, ETag: etag, LastModified: lastMod}
	return nil
}

func (im *importer) setEPSS(r io.Reader, src, etag, lastMod string) error {
	if im.epss != nil {
		return fmt.Errorf("%s: second EPSS scores in one import", src)
	}
	s, err := epss.Parse(r)
	if err := im.partial(src, err); err != nil {
		return err
	}
	im.epss = s
	im.epssStat = &EPSSStatus{Rows: len(s.Rows), ModelVersion: s.ModelVersion, ScoreDate: s.ScoreDate, Source: src, ETag: etag, LastModified: lastMod}
	return nil
}

// partial records per-entry problems of a KEV or EPSS parse and returns
// the error when the whole file failed.
func (im *importer) partial(src string, err error) error {
	var pe *plugin.PartialError
	if errors.As(err, &pe) {
		for _, p := range pe.Problems {
			im.feedProblems = append(im.feedProblems, fmt.Sprintf("%s: %s", filepath.Base(src), p))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return nil
}

// finish builds the new generation from the merged records and the live
// one, and commits it.
func (im *importer) finish() (*Report, error) {
	now := time.Now().UTC()
	t := im.t
	type ecoNew struct {
		recs    []*compactRec
		sources []string
	}
	touched := map[string]*ecoNew{}
	ids := make([]string, 0, len(im.recs))
	for id := range im.recs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		rec := im.recs[id]
		if len(rec.affs) == 0 {
			im.report.Unindexed++
			continue
		}
		im.report.Records++
		for _, a := range rec.affs {
			e := touched[a.base]
			if e == nil {
				e = &ecoNew{}
				touched[a.base] = e
			}
			if n := len(e.recs); n == 0 || e.recs[n-1] != rec {
				e.recs = append(e.recs, rec)
			}
			if src := im.recSrc[id]; !slices.Contains(e.sources, src) {
				e.sources = append(e.sources, src)
			}
		}
	}
	m := meta{Format: formatVersion, Ecosystems: map[string]*EcosystemStatus{}}
	var old *meta
	if t.old != nil {
		old = &t.old.meta
		for eco, st := range old.Ecosystems {
			if touched[eco] != nil || im.replace[eco] != nil {
				continue
			}
			if err := t.keep(st.File); err != nil {
				return nil, fmt.Errorf("keep ecosystem %q: %w", eco, err)
			}
			m.Ecosystems[eco] = st
		}
	}
	if len(touched)+len(m.Ecosystems) > im.lim.MaxEcosystems {
		return nil, fmt.Errorf("more than %d ecosystems", im.lim.MaxEcosystems)
	}
	for eco, e := range touched {
		b := newIndexBuilder()
		st := &EcosystemStatus{Ecosystem: eco, File: fileName(eco), Imported: now, Sources: e.sources}
		if repl := im.replace[eco]; repl != nil {
			st.ETag, st.LastModified = repl.ETag, repl.LastModified
		} else if t.old != nil && t.old.indexes[eco] != nil {
			if err := mergeOld(b, t.old.indexes[eco], im.recs); err != nil {
				return nil, fmt.Errorf("merge ecosystem %q: %w", eco, err)
			}
			st.Sources = mergeSources(old.Ecosystems[eco].Sources, e.sources)
		}
		for _, rec := range e.recs {
			b.addRecord(&rec.indexRecord)
			for _, a := range rec.affs {
				if a.base == eco {
					b.addEntry(a.key, rec.id, a.data)
				}
			}
		}
		st.Records, st.Packages, st.Withdrawn = b.stats()
		if err := t.create(st.File, b.write); err != nil {
			return nil, err
		}
		m.Ecosystems[eco] = st
		im.report.Ecosystems = append(im.report.Ecosystems, eco)
	}
	// An update whose export had no valid record keeps the old ecosystem.
	for eco := range im.replace {
		if touched[eco] == nil && old != nil && old.Ecosystems[eco] != nil {
			if err := t.keep(old.Ecosystems[eco].File); err != nil {
				return nil, err
			}
			m.Ecosystems[eco] = old.Ecosystems[eco]
		}
	}
	slices.Sort(im.report.Ecosystems)

	switch {
	case im.kev != nil:
		im.kevStat.Imported = now
		if err := t.create(kevName, func(w io.Writer) error { return json.NewEncoder(w).Encode(im.kev) }); err != nil {
			return nil, err
		}
		m.KEV = im.kevStat
		im.report.KEV = len(im.kev.Entries)
	case old != nil && old.KEV != nil:
		if err := t.keep(kevName); err != nil {
			return nil, err
		}
		m.KEV = old.KEV
	}
	switch {
	case im.epss != nil:
		im.epssStat.Imported = now
		if err := t.create(epssName, func(w io.Writer) error { return writeEPSS(w, im.epss.Rows) }); err != nil {
			return nil, err
		}
		m.EPSS = im.epssStat
		im.report.EPSS = len(im.epss.Rows)
	case old != nil && old.EPSS != nil:
		if err := t.keep(epssName); err != nil {
			return nil, err
		}
		m.EPSS = old.EPSS
	}
	if err := t.create(metaName, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(&m)
	}); err != nil {
		return nil, err
	}
	if err := t.commit(); err != nil {
		return nil, err
	}
	im.report.Duration = time.Since(im.start)
	for _, p := range im.feedProblems {
		im.problems.Add(errors.New(p))
	}
	return &im.report, im.problems.Err()
}

// mergeOld adds the live index's records and entries to b, except those
// of records being re-imported.
func mergeOld(b *indexBuilder, x *index, fresh map[string]*compactRec) error {
	ids := make([]string, x.nrec)
	for i := range x.nrec {
		id, hdr, err := x.record(i)
		if err != nil {
			return err
		}
		ids[i] = string(id)
		if fresh[ids[i]] != nil {
			continue
		}
		var h Vulnerability
		if err := decodeHeader(hdr, &h); err != nil {
			return err
		}
		b.addRecord(&indexRecord{id: ids[i], hdr: hdr, refs: append(h.Aliases, h.Upstream...), withdrawn: !h.Withdrawn.IsZero()})
	}
	for i := range x.npkg {
		k, v, err := x.kv(x.pkgs, i)
		if err != nil {
			return err
		}
		groups, err := decodeGroups(v)
		if err != nil {
			return err
		}
		for _, g := range groups {
			if g.rec >= len(ids) {
				return fmt.Errorf("%w: record index", errCorrupt)
			}
			if fresh[ids[g.rec]] != nil {
				continue
			}
			for _, a := range g.affs {
				b.addEntry(string(k), ids[g.rec], a)
			}
		}
	}
	return nil
}

// mergeSources keeps the most recent 20 distinct sources.
func mergeSources(old, add []string) []string {
	out := slices.DeleteFunc(slices.Clone(old), func(s string) bool { return slices.Contains(add, s) })
	out = append(out, add...)
	if len(out) > 20 {
		out = out[len(out)-20:]
	}
	return out
}
