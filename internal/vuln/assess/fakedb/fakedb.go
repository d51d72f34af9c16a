// Package fakedb is an in-memory assess.DB for tests. Lookup follows
// osv.DB's contract: records are keyed by base ecosystem and normalised
// package name, each returned record holds only the affected entries of the
// package looked up, withdrawn records are returned too, sorted by ID.
package fakedb

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/vuln/epss"
	"github.com/vigilsec/vigil/internal/vuln/kev"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// DB holds records, KEV entries and EPSS scores.
type DB struct {
	Records []osv.Vulnerability
	KEVs    []kev.Entry
	Scores  []epss.Score
	// Err, when set, is returned by every method.
	Err error
	// Lookups counts Lookup calls.
	Lookups int
}

// Lookup returns the records with an affected entry for the package.
func (d *DB) Lookup(ecosystem, name string) ([]osv.Vulnerability, error) {
	d.Lookups++
	if d.Err != nil {
		return nil, d.Err
	}
	base := osv.BaseEcosystem(ecosystem)
	key := osv.NormalizeName(base, name)
	var out []osv.Vulnerability
	for _, r := range d.Records {
		var as []osv.Affected
		for _, a := range r.Affected {
			if osv.BaseEcosystem(a.Package.Ecosystem) == base && osv.NormalizeName(base, a.Package.Name) == key {
				as = append(as, a)
			}
		}
		if len(as) == 0 {
			continue
		}
		r.Affected = as
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b osv.Vulnerability) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// KEV returns the KEV entry of a CVE.
func (d *DB) KEV(cve string) (kev.Entry, bool, error) {
	if d.Err != nil {
		return kev.Entry{}, false, d.Err
	}
	for _, e := range d.KEVs {
		if e.CVE == cve {
			return e, true, nil
		}
	}
	return kev.Entry{}, false, nil
}

// EPSS returns the EPSS score of a CVE.
func (d *DB) EPSS(cve string) (epss.Score, bool, error) {
	if d.Err != nil {
		return epss.Score{}, false, d.Err
	}
	for _, s := range d.Scores {
		if s.CVE == cve {
			return s, true, nil
		}
	}
	return epss.Score{}, false, nil
}

// String describes the database for test logs.
func (d *DB) String() string {
	return fmt.Sprintf("fakedb(%d records, %d KEV, %d EPSS)", len(d.Records), len(d.KEVs), len(d.Scores))
}
