package match

import (
	"fmt"
	"slices"

	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// Range types of the OSV schema.
const (
	RangeSemVer    = "SEMVER"
	RangeEcosystem = "ECOSYSTEM"
	RangeGit       = "GIT"
)

// Affected reports whether version of a package in ecosystem is affected by
// the OSV affected entry a, following the schema's evaluation algorithm
// (https://ossf.github.io/osv-schema/#evaluation), and if so the lowest
// fixed version above it that is itself unaffected ("" when none is known).
//
// ecosystem is the installed package's OSV ecosystem ("Debian:12", "Go");
// its base must equal that of a.Package.Ecosystem when the latter is set.
// The caller picks the entry by package name (see the package comment).
// To test many versions against the same entry, Compile it once instead.
func Affected(ecosystem, version string, a osv.Affected) (vulnerable bool, fixed string, err error) {
	if a.Package.Ecosystem == "" {
		a.Package.Ecosystem = ecosystem
	} else if BaseEcosystem(a.Package.Ecosystem) != BaseEcosystem(ecosystem) {
		return false, "", fmt.Errorf("match %q version of %q against %q record: different ecosystems", ecosystem, a.Package.Name, a.Package.Ecosystem)
	}
	m, err := Compile(a)
	if err != nil {
		return false, "", err
	}
	return m.Match(version)
}

// Matcher is an OSV affected entry with its versions parsed, ready to test
// versions against. It is safe for concurrent use.
type Matcher struct {
	ecosystem string
	name      string
	scheme    scheme
	isGo      bool

	versions []listedVersion
	ranges   []compiledRange
}

type listedVersion struct {
	str    string
	parsed Version // zero when the string does not parse in the ecosystem
}

type eventKind uint8

// The order of the kinds breaks ties between events of equal version: a
// fixed (or last_affected) event ends one interval before an introduced
// event at the same version starts the next, so that adjacent intervals
// [a, x) and [x, b) (as in PYSEC-2022-42972) cover x.
const (
	evFixed eventKind = iota
	evLastAffected
	evIntroduced
	evLimit
)

var eventKindNames = [...]string{evFixed: "fixed", evLastAffected: "last_affected", evIntroduced: "introduced", evLimit: "limit"}

type compiledEvent struct {
	kind eventKind
	zero bool // introduced "0": before every version
	inf  bool // limit "*": after every version
	v    Version
}

type compiledRange struct {
	scheme scheme
	events []compiledEvent // sorted, without limits
	limits []compiledEvent
}

// Compile parses the versions of an affected entry under the ordering of
// its package's ecosystem. GIT ranges are skipped: they are evaluated
// against commits, not package versions. It returns an error for an
// unsupported ecosystem (wrapping ErrUnsupportedEcosystem), an unknown range
// type, an event that does not set exactly one field, or an event version
// that does not parse.
func Compile(a osv.Affected) (*Matcher, error) {
	s, err := lookupScheme(a.Package.Ecosystem)
	if err != nil {
		return nil, err
	}
	m := &Matcher{
		ecosystem: a.Package.Ecosystem,
		name:      a.Package.Name,
		scheme:    s,
		isGo:      BaseEcosystem(a.Package.Ecosystem) == "Go",
	}
	for _, v := range a.Versions {
		lv := listedVersion{str: v}
		if p, err := parseScheme(s, m.goEventVersion(v)); err == nil {
			lv.parsed = p
		}
		m.versions = append(m.versions, lv)
	}
	for i, r := range a.Ranges {
		var rs scheme
		switch r.Type {
		case RangeGit:
			continue
		case RangeSemVer:
			rs = schemeSemVer
		case RangeEcosystem:
			rs = s
		default:
			return nil, fmt.Errorf("%s %q: range %d: unknown range type %q", a.Package.Ecosystem, a.Package.Name, i, r.Type)
		}
		cr := compiledRange{scheme: rs}
		hasIntroduced := false
		for j, e := range r.Events {
			ce, err := m.compileEvent(rs, e)
			if err != nil {
				return nil, fmt.Errorf("%s %q: range %d event %d: %w", a.Package.Ecosystem, a.Package.Name, i, j, err)
			}
			if ce.kind == evLimit {
				cr.limits = append(cr.limits, ce)
				continue
			}
			hasIntroduced = hasIntroduced || ce.kind == evIntroduced
			cr.events = append(cr.events, ce)
		}
		if !hasIntroduced {
			return nil, fmt.Errorf("%s %q: range %d: no introduced event", a.Package.Ecosystem, a.Package.Name, i)
		}
		var cmpErr error
		slices.SortStableFunc(cr.events, func(x, y compiledEvent) int {
			c, err := compareEvents(x, y)
			if err != nil && cmpErr == nil {
				cmpErr = err
			}
			return c
		})
		if cmpErr != nil {
			return nil, fmt.Errorf("%s %q: range %d: %w", a.Package.Ecosystem, a.Package.Name, i, cmpErr)
		}
		m.ranges = append(m.ranges, cr)
	}
	return m, nil
}

// goEventVersion strips the "v" that some Go records written by hand carry
// despite the schema; other ecosystems' versions are returned unchanged.
func (m *Matcher) goEventVersion(v string) string {
	if m.isGo && len(v) > 1 && v[0] == 'v' {
		return v[1:]
	}
	return v
}

func (m *Matcher) compileEvent(rs scheme, e osv.Event) (compiledEvent, error) {
	var (
		kind eventKind
		str  string
		n    int
	)
	for k, s := range [...]string{evIntroduced: e.Introduced, evLastAffected: e.LastAffected, evFixed: e.Fixed, evLimit: e.Limit} {
		if s != "" {
			kind, str = eventKind(k), s
			n++
		}
	}
	if n != 1 {
		return compiledEvent{}, fmt.Errorf("want exactly one of introduced, fixed, last_affected, limit; got %d", n)
	}
	ce := compiledEvent{kind: kind}
	switch {
	case kind == evIntroduced && str == "0":
		ce.zero = true
		return ce, nil
	case kind == evLimit && str == "*":
		ce.inf = true
		return ce, nil
	}
	v, err := parseScheme(rs, m.goEventVersion(str))
	if err != nil {
		return compiledEvent{}, fmt.Errorf("%s: %w", eventKindNames[kind], err)
	}
	ce.v = v
	return ce, nil
}

func compareEvents(x, y compiledEvent) (int, error) {
	switch {
	case x.zero && y.zero:
		return 0, nil
	case x.zero:
		return -1, nil
	case y.zero:
		return 1, nil
	}
	c, err := x.v.Compare(y.v)
	if err != nil {
		return 0, err
	}
	if c != 0 {
		return c, nil
	}
	return int(x.kind) - int(y.kind), nil
}

// installed is the version under test, parsed lazily under each ordering.
type installed struct {
	raw, norm string
	parsed    [len(schemeNames)]Version
	errs      [len(schemeNames)]error
	done      [len(schemeNames)]bool
}

func (in *installed) in(s scheme) (Version, error) {
	if !in.done[s] {
		in.parsed[s], in.errs[s] = parseScheme(s, in.norm)
		in.done[s] = true
	}
	return in.parsed[s], in.errs[s]
}

// Match reports whether version is affected by the entry and, if so, the
// lowest fixed version above it that is not itself affected ("" when no
// fixed event gives one). For Go, version may carry a "v" prefix and, for
// the stdlib and toolchain packages, be a Go release name ("go1.21.5").
// An error wraps ErrInvalidVersion when version does not parse.
func (m *Matcher) Match(version string) (vulnerable bool, fixed string, err error) {
	return m.MatchInstalled(Prepare(m.ecosystem, m.name, version))
}

// Installed is one installed package version, prepared once for matching
// against every entry of its package: its parsed forms are kept between
// calls. It is not safe for concurrent use.
type Installed struct {
	ecosystem, name string
	in              installed
	err             error
}

// Prepare readies version of package name in ecosystem for MatchInstalled.
// An invalid version is reported by MatchInstalled.
func Prepare(ecosystem, name, version string) *Installed {
	iv := &Installed{ecosystem: ecosystem, name: name, in: installed{raw: version, norm: version}}
	if BaseEcosystem(ecosystem) == "Go" {
		iv.in.norm, iv.err = normalizeGo(name, version)
	}
	return iv
}

// MatchInstalled is Match for a prepared version. The version's ecosystem
// must have the entry's base ecosystem, and for Go its package name must be
// the entry's (the stdlib is versioned differently from modules).
func (m *Matcher) MatchInstalled(iv *Installed) (vulnerable bool, fixed string, err error) {
	if BaseEcosystem(iv.ecosystem) != BaseEcosystem(m.ecosystem) {
		return false, "", fmt.Errorf("match %q version of %q against %q record: different ecosystems", iv.ecosystem, iv.name, m.ecosystem)
	}
	if m.isGo && iv.name != m.name {
		return false, "", fmt.Errorf("match Go package %q against entry for %q", iv.name, m.name)
	}
	if iv.err != nil {
		return false, "", fmt.Errorf("%s %q: %w", m.ecosystem, m.name, iv.err)
	}
	vulnerable, err = m.affected(&iv.in)
	if err != nil || !vulnerable {
		return false, "", err
	}
	return true, m.lowestFix(&iv.in), nil
}

func (m *Matcher) affected(in *installed) (bool, error) {
	if len(m.versions) > 0 {
		var v Version
		var err error
		for _, lv := range m.versions {
			if lv.str == in.raw || lv.str == in.norm {
				return true, nil
			}
			if lv.parsed.v == nil {
				continue
			}
			if v.v == nil && err == nil {
				v, err = in.in(m.scheme)
			}
			if err != nil {
				// Not comparable under the ecosystem's ordering: only exact
				// string matches count, as the schema says.
				continue
			}
			if c, cerr := v.Compare(lv.parsed); cerr == nil && c == 0 {
				return true, nil
			}
		}
	}
	for i := range m.ranges {
		r := &m.ranges[i]
		v, err := in.in(r.scheme)
		if err != nil {
			return false, fmt.Errorf("%s %q: %w", m.ecosystem, m.name, err)
		}
		hit, err := r.includes(v)
		if err != nil {
			return false, fmt.Errorf("%s %q: %w", m.ecosystem, m.name, err)
		}
		if hit {
			return true, nil
		}
	}
	return false, nil
}

// includes is IncludedInRanges of the schema's evaluation for one range.
func (r *compiledRange) includes(v Version) (bool, error) {
	if len(r.limits) > 0 {
		before := false
		for _, l := range r.limits {
			if l.inf {
				before = true
				break
			}
			c, err := v.Compare(l.v)
			if err != nil {
				return false, err
			}
			if c < 0 {
				before = true
				break
			}
		}
		if !before {
			return false, nil
		}
	}
	vulnerable := false
	for _, e := range r.events {
		if e.zero {
			vulnerable = true
			continue
		}
		c, err := v.Compare(e.v)
		if err != nil {
			return false, err
		}
		switch e.kind {
		case evIntroduced:
			if c >= 0 {
				vulnerable = true
			}
		case evFixed:
			if c >= 0 {
				vulnerable = false
			}
		case evLastAffected:
			if c > 0 {
				vulnerable = false
			}
		}
	}
	return vulnerable, nil
}

// lowestFix returns the lowest fixed event above the installed version that
// is not itself affected by the entry.
func (m *Matcher) lowestFix(in *installed) string {
	var cands []Version
	for i := range m.ranges {
		r := &m.ranges[i]
		v, err := in.in(r.scheme)
		if err != nil {
			continue
		}
		for _, e := range r.events {
			if e.kind != evFixed {
				continue
			}
			if c, err := e.v.Compare(v); err == nil && c > 0 {
				cands = append(cands, e.v)
			}
		}
	}
	slices.SortStableFunc(cands, func(a, b Version) int {
		if c, err := a.Compare(b); err == nil {
			return c
		}
		// A SEMVER and an ECOSYSTEM range in one entry: compare the
		// strings under the ecosystem's ordering.
		pa, errA := parseScheme(m.scheme, a.str)
		pb, errB := parseScheme(m.scheme, b.str)
		if errA != nil || errB != nil {
			return 0
		}
		c, _ := pa.Compare(pb)
		return c
	})
	for _, c := range cands {
		fin := installed{raw: c.str, norm: c.str}
		if m.isGo {
			// Offer only fixes that Match itself accepts as Go versions.
			n, err := normalizeGo(m.name, c.str)
			if err != nil {
				continue
			}
			fin.norm = n
		}
		if hit, err := m.affected(&fin); err == nil && !hit {
			return c.str
		}
	}
	return ""
}
