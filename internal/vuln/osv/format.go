package osv

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/vuln/epss"
)

// Index file format (one file per base ecosystem, "<Ecosystem>.osvidx").
// All integers are little-endian; offsets are relative to the start of
// the data section.
//
//	header   magic "VGLOSVX1" | nrec u32 | npkg u32 | nalias u32 | reserved u32
//	records  nrec   x (idOff u32, idLen u32, hdrOff u32, hdrLen u32), sorted by ID
//	packages npkg   x (keyOff u32, keyLen u32, valOff u32, valLen u32), sorted by key
//	aliases  nalias x (keyOff u32, keyLen u32, valOff u32, valLen u32), sorted by key
//	data
//
// A record header is the record without affected, details, references
// and database_specific, encoded as in codec.go. A package value is a
// sequence of groups: uvarint record index, uvarint count, then count
// times (uvarint length, one affected entry encoded as in codec.go). An alias value is the IDs of the
// records carrying that alias (or upstream ID), joined by "\n".
//
// Loading is an mmap; a lookup is a binary search over the package table
// and decodes only the matching entries, so opening the database and
// looking up 1,000 packages costs well under a millisecond plus the
// decoding of the hits.
const (
	indexMagic   = "VGLOSVX1"
	headerSize   = 24
	recEntrySize = 16
	kvEntrySize  = 16
)

var errCorrupt = errors.New("corrupt index")

// index is one opened (memory-mapped) ecosystem index.
type index struct {
	nrec, npkg, nalias  int
	recs, pkgs, aliases []byte // tables
	data                []byte
}

func parseIndex(b []byte) (*index, error) {
	if len(b) < headerSize || string(b[:8]) != indexMagic {
		return nil, fmt.Errorf("%w: bad magic", errCorrupt)
	}
	le := binary.LittleEndian
	x := &index{nrec: int(le.Uint32(b[8:])), npkg: int(le.Uint32(b[12:])), nalias: int(le.Uint32(b[16:]))}
	tables := uint64(x.nrec)*recEntrySize + uint64(x.npkg)*kvEntrySize + uint64(x.nalias)*kvEntrySize
	if uint64(len(b)-headerSize) < tables {
		return nil, fmt.Errorf("%w: tables exceed file", errCorrupt)
	}
	p := b[headerSize:]
	x.recs, p = p[:x.nrec*recEntrySize], p[x.nrec*recEntrySize:]
	x.pkgs, p = p[:x.npkg*kvEntrySize], p[x.npkg*kvEntrySize:]
	x.aliases, x.data = p[:x.nalias*kvEntrySize], p[x.nalias*kvEntrySize:]
	return x, nil
}

// slice returns data[off:off+n] from an (off, n) pair stored at t[i:].
func (x *index) slice(t []byte, i int) ([]byte, error) {
	off, n := uint64(binary.LittleEndian.Uint32(t[i:])), uint64(binary.LittleEndian.Uint32(t[i+4:]))
	if off+n > uint64(len(x.data)) {
		return nil, fmt.Errorf("%w: entry out of bounds", errCorrupt)
	}
	return x.data[off : off+n], nil
}

// record returns the ID and header JSON of record i.
func (x *index) record(i int) (id, hdr []byte, err error) {
	if i < 0 || i >= x.nrec {
		return nil, nil, fmt.Errorf("%w: record %d out of range", errCorrupt, i)
	}
	if id, err = x.slice(x.recs, i*recEntrySize); err != nil {
		return nil, nil, err
	}
	hdr, err = x.slice(x.recs, i*recEntrySize+8)
	return id, hdr, err
}

// find binary-searches a key/value table for key and returns its value.
func (x *index) find(table []byte, n int, key string) ([]byte, bool, error) {
	var ferr error
	i := sort.Search(n, func(i int) bool {
		k, err := x.slice(table, i*kvEntrySize)
		if err != nil {
			ferr = err
			return true
		}
		return string(k) >= key
	})
	if ferr != nil {
		return nil, false, ferr
	}
	if i == n {
		return nil, false, nil
	}
	k, err := x.slice(table, i*kvEntrySize)
	if err != nil || string(k) != key {
		return nil, false, err
	}
	v, err := x.slice(table, i*kvEntrySize+8)
	return v, err == nil, err
}

// kv returns entry i of a key/value table.
func (x *index) kv(table []byte, i int) (k, v []byte, err error) {
	if k, err = x.slice(table, i*kvEntrySize); err != nil {
		return nil, nil, err
	}
	v, err = x.slice(table, i*kvEntrySize+8)
	return k, v, err
}

// group is one record's affected entries for one package.
type group struct {
	rec  int
	affs [][]byte
}

// decodeGroups splits a package value into its groups.
func decodeGroups(v []byte) ([]group, error) {
	var out []group
	for len(v) > 0 {
		rec, n := binary.Uvarint(v)
		if n <= 0 || rec > math.MaxInt32 {
			return nil, fmt.Errorf("%w: bad record index", errCorrupt)
		}
		v = v[n:]
		cnt, n := binary.Uvarint(v)
		if n <= 0 || cnt > uint64(len(v)) {
			return nil, fmt.Errorf("%w: bad entry count", errCorrupt)
		}
		v = v[n:]
		g := group{rec: int(rec), affs: make([][]byte, 0, cnt)}
		for range cnt {
			l, n := binary.Uvarint(v)
			if n <= 0 || l > uint64(len(v)-n) {
				return nil, fmt.Errorf("%w: bad entry length", errCorrupt)
			}
			g.affs = append(g.affs, v[n:n+int(l)])
			v = v[n+int(l):]
		}
		out = append(out, g)
	}
	return out, nil
}

// indexRecord is one record as the index builder takes it.
type indexRecord struct {
	id  string
	hdr []byte
	// refs are the aliases and upstream IDs, for the alias table.
	refs      []string
	withdrawn bool
}

// indexBuilder accumulates one ecosystem's records and entries.
type indexBuilder struct {
	recs    map[string]*indexRecord
	entries map[string]map[string][][]byte // key -> record ID -> affected JSON
}

func newIndexBuilder() *indexBuilder {
	return &indexBuilder{recs: map[string]*indexRecord{}, entries: map[string]map[string][][]byte{}}
}

func (b *indexBuilder) addRecord(r *indexRecord) { b.recs[r.id] = r }

func (b *indexBuilder) addEntry(key, id string, aff []byte) {
	m := b.entries[key]
	if m == nil {
		m = map[string][][]byte{}
		b.entries[key] = m
	}
	m[id] = append(m[id], aff)
}

// stats reports records, packages and withdrawn records.
func (b *indexBuilder) stats() (recs, pkgs, withdrawn int) {
	for _, r := range b.recs {
		if r.withdrawn {
			withdrawn++
		}
	}
	return len(b.recs), len(b.entries), withdrawn
}

// write encodes the index. Records without entries are dropped.
func (b *indexBuilder) write(w io.Writer) error {
	ids := make([]string, 0, len(b.recs))
	used := map[string]bool{}
	for _, m := range b.entries {
		for id := range m {
			used[id] = true
		}
	}
	for id := range b.recs {
		if used[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	recIdx := make(map[string]int, len(ids))
	for i, id := range ids {
		recIdx[id] = i
	}
	keys := make([]string, 0, len(b.entries))
	for k := range b.entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	aliasMap := map[string][]string{}
	for _, id := range ids {
		for _, a := range b.recs[id].refs {
			if a != id && !slices.Contains(aliasMap[a], id) {
				aliasMap[a] = append(aliasMap[a], id)
			}
		}
	}
	aliases := make([]string, 0, len(aliasMap))
	for a := range aliasMap {
		aliases = append(aliases, a)
	}
	slices.Sort(aliases)

	var data bytes.Buffer
	put := func(s []byte) (uint32, uint32, error) {
		off := data.Len()
		data.Write(s)
		if data.Len() > math.MaxUint32 {
			return 0, 0, errors.New("index larger than 4 GiB")
		}
		return uint32(off), uint32(len(s)), nil
	}
	le := binary.LittleEndian
	tables := make([]byte, 0, len(ids)*recEntrySize+(len(keys)+len(aliases))*kvEntrySize)
	for _, id := range ids {
		idOff, il, err := put([]byte(id))
		if err != nil {
			return err
		}
		ho, hl, err := put(b.recs[id].hdr)
		if err != nil {
			return err
		}
		tables = le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(tables, idOff), il), ho), hl)
	}
	var val []byte
	for _, k := range keys {
		m := b.entries[k]
		gids := make([]string, 0, len(m))
		for id := range m {
			gids = append(gids, id)
		}
		slices.Sort(gids)
		val = val[:0]
		for _, id := range gids {
			val = binary.AppendUvarint(val, uint64(recIdx[id]))
			val = binary.AppendUvarint(val, uint64(len(m[id])))
			for _, a := range m[id] {
				val = binary.AppendUvarint(val, uint64(len(a)))
				val = append(val, a...)
			}
		}
		ko, kl, err := put([]byte(k))
		if err != nil {
			return err
		}
		vo, vl, err := put(val)
		if err != nil {
			return err
		}
		tables = le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(tables, ko), kl), vo), vl)
	}
	for _, a := range aliases {
		ko, kl, err := put([]byte(a))
		if err != nil {
			return err
		}
		vo, vl, err := put([]byte(strings.Join(aliasMap[a], "\n")))
		if err != nil {
			return err
		}
		tables = le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(tables, ko), kl), vo), vl)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	hdr := make([]byte, 0, headerSize)
	hdr = append(hdr, indexMagic...)
	hdr = le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(hdr, uint32(len(ids))), uint32(len(keys))), uint32(len(aliases))), 0)
	bw.Write(hdr)
	bw.Write(tables)
	bw.Write(data.Bytes())
	return bw.Flush()
}

// EPSS file format ("epss.bin"): magic "VGLEPSS1" | n u64, then n rows of
// (CVE key u64 as epss.Key, EPSS u32, percentile u32), sorted by key;
// probabilities are stored in parts per billion. 16 bytes a row keeps
// the ~300,000 daily scores at under 5 MB, searched in place.
const (
	epssMagic   = "VGLEPSS1"
	epssRowSize = 16
)

func writeEPSS(w io.Writer, rows []epss.Score) error {
	le := binary.LittleEndian
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(epssMagic)
	var row [epssRowSize]byte
	le.PutUint64(row[:8], uint64(len(rows)))
	bw.Write(row[:8])
	prev := uint64(0)
	for i, r := range rows {
		k, ok := epss.Key(r.CVE)
		if !ok || (i > 0 && k <= prev) {
			return fmt.Errorf("epss row %q: not a sorted canonical CVE ID", r.CVE)
		}
		prev = k
		le.PutUint64(row[:], k)
		le.PutUint32(row[8:], uint32(math.Round(r.EPSS*1e9)))
		le.PutUint32(row[12:], uint32(math.Round(r.Percentile*1e9)))
		bw.Write(row[:])
	}
	return bw.Flush()
}

type epssTable []byte // rows only

func parseEPSS(b []byte) (epssTable, error) {
	if len(b) < 16 || string(b[:8]) != epssMagic {
		return nil, fmt.Errorf("%w: bad epss magic", errCorrupt)
	}
	n := binary.LittleEndian.Uint64(b[8:])
	if n > uint64(len(b)-16)/epssRowSize || uint64(len(b)-16) != n*epssRowSize {
		return nil, fmt.Errorf("%w: epss size", errCorrupt)
	}
	return epssTable(b[16:]), nil
}

func (t epssTable) lookup(cve string) (epss.Score, bool) {
	k, ok := epss.Key(cve)
	if !ok {
		return epss.Score{}, false
	}
	le := binary.LittleEndian
	n := len(t) / epssRowSize
	i := sort.Search(n, func(i int) bool { return le.Uint64(t[i*epssRowSize:]) >= k })
	if i == n || le.Uint64(t[i*epssRowSize:]) != k {
		return epss.Score{}, false
	}
	row := t[i*epssRowSize:]
	return epss.Score{CVE: cve, EPSS: float64(le.Uint32(row[8:])) / 1e9, Percentile: float64(le.Uint32(row[12:])) / 1e9}, true
}
