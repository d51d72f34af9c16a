package osv

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// The index stores record headers and affected entries in a small binary
// form rather than JSON: looking up 1,000 packages of the Go database
// decodes about 2,300 records, and encoding/json spent ~40 ms on that
// where this takes a few. Strings and lists are uvarint-length-prefixed;
// times are a presence byte, varint Unix seconds and uvarint nanoseconds
// (UTC); the free-form ecosystem_specific and database_specific maps stay
// JSON. Every read is bounds-checked: a corrupt index gives an error.

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) str(s string)  { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) bytes(s []byte) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return
	}
	e.b = append(e.b, 1)
	e.b = binary.AppendVarint(e.b, t.Unix())
	e.uint(uint64(t.Nanosecond()))
}

func (e *encoder) severity(ss []Severity) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s.Type)
		e.str(s.Score)
	}
}

func (e *encoder) anyMap(m map[string]any) error {
	if len(m) == 0 {
		e.uint(0)
		return nil
	}
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	e.bytes(js)
	return nil
}

// encodeHeader encodes what the index keeps of a record besides its
// affected entries.
func encodeHeader(v *Vulnerability) []byte {
	e := encoder{b: make([]byte, 0, 256)}
	e.str(v.SchemaVersion)
	e.str(v.ID)
	e.time(v.Modified)
	e.time(v.Published)
	e.time(v.Withdrawn)
	e.strs(v.Aliases)
	e.strs(v.Related)
	e.strs(v.Upstream)
	e.str(v.Summary)
	e.severity(v.Severity)
	return e.b
}

// Event kinds in an encoded range: a bit mask, then the set values.
const (
	evIntroduced = 1 << iota
	evFixed
	evLastAffected
	evLimit
)

func encodeAffected(a *Affected) ([]byte, error) {
	e := encoder{b: make([]byte, 0, 128)}
	e.str(a.Package.Ecosystem)
	e.str(a.Package.Name)
	e.str(a.Package.PURL)
	e.severity(a.Severity)
	e.uint(uint64(len(a.Ranges)))
	for _, r := range a.Ranges {
		e.str(r.Type)
		e.str(r.Repo)
		e.uint(uint64(len(r.Events)))
		for _, ev := range r.Events {
			var mask byte
			for i, s := range []string{ev.Introduced, ev.Fixed, ev.LastAffected, ev.Limit} {
				if s != "" {
					mask |= 1 << i
				}
			}
			e.b = append(e.b, mask)
			for _, s := range []string{ev.Introduced, ev.Fixed, ev.LastAffected, ev.Limit} {
				if s != "" {
					e.str(s)
				}
			}
		}
	}
	e.strs(a.Versions)
	if err := e.anyMap(a.EcosystemSpecific); err != nil {
		return nil, err
	}
	if err := e.anyMap(a.DatabaseSpecific); err != nil {
		return nil, err
	}
	return e.b, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", errCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) raw() []byte {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail("length")
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) str() string { return string(d.raw()) }

// count reads a list length; every element takes at least min bytes,
// which bounds allocations by the input size.
func (d *decoder) count(min int) int {
	n := d.uint()
	if n > uint64(len(d.b)/min) {
		d.fail("count")
		return 0
	}
	return int(n)
}

func (d *decoder) strs() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("byte")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) time() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
	default:
		d.fail("time")
		return time.Time{}
	}
	sec, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("time")
		return time.Time{}
	}
	d.b = d.b[n:]
	nsec := d.uint()
	if nsec >= 1e9 || sec > math.MaxInt64/2 || sec < math.MinInt64/2 {
		d.fail("time")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) severity() []Severity {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	out := make([]Severity, n)
	for i := range out {
		out[i] = Severity{Type: d.str(), Score: d.str()}
	}
	return out
}

func (d *decoder) anyMap() map[string]any {
	js := d.raw()
	if len(js) == 0 || d.err != nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		d.fail("map")
		return nil
	}
	return m
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}

func decodeHeader(b []byte, v *Vulnerability) error {
	d := decoder{b: b}
	v.SchemaVersion = d.str()
	v.ID = d.str()
	v.Modified = d.time()
	v.Published = d.time()
	v.Withdrawn = d.time()
	v.Aliases = d.strs()
	v.Related = d.strs()
	v.Upstream = d.strs()
	v.Summary = d.str()
	v.Severity = d.severity()
	return d.end()
}

func decodeAffected(b []byte, a *Affected) error {
	d := decoder{b: b}
	a.Package = Package{Ecosystem: d.str(), Name: d.str(), PURL: d.str()}
	a.Severity = d.severity()
	if n := d.count(3); n > 0 {
		a.Ranges = make([]Range, n)
		for i := range a.Ranges {
			r := &a.Ranges[i]
			r.Type, r.Repo = d.str(), d.str()
			r.Events = make([]Event, d.count(1))
			for j := range r.Events {
				mask := d.byte()
				if mask&^0xf != 0 {
					d.fail("event")
					break
				}
				ev := &r.Events[j]
				for k, p := range []*string{&ev.Introduced, &ev.Fixed, &ev.LastAffected, &ev.Limit} {
					if mask&(1<<k) != 0 {
						*p = d.str()
					}
				}
			}
		}
	}
	a.Versions = d.strs()
	a.EcosystemSpecific = d.anyMap()
	a.DatabaseSpecific = d.anyMap()
	return d.end()
}
