// Package kev parses the CISA Known Exploited Vulnerabilities catalogue
// (https://www.cisa.gov/known-exploited-vulnerabilities-catalog), the JSON
// file published as known_exploited_vulnerabilities.json.
package kev

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/plugin"
)

// MaxSize bounds the catalogue read by Parse. The real file is about
// 1.3 MB; the bound leaves room for decades of growth.
const MaxSize = 64 << 20

// Catalog is a parsed KEV catalogue. Entries are sorted by CVE and unique.
type Catalog struct {
	Title          string    `json:"title,omitempty"`
	CatalogVersion string    `json:"catalog_version,omitempty"`
	DateReleased   time.Time `json:"date_released,omitzero"`
	Entries        []Entry   `json:"entries"`
}

// Entry is one known exploited vulnerability.
type Entry struct {
	CVE       string    `json:"cve"`
	DateAdded time.Time `json:"date_added"`
	DueDate   time.Time `json:"due_date,omitzero"`
	// KnownRansomwareCampaignUse is true when the catalogue says "Known"
	// (the other value is "Unknown").
	KnownRansomwareCampaignUse bool `json:"known_ransomware_campaign_use"`
}

// Lookup returns the entry for a CVE ID (binary search over Entries).
func (c *Catalog) Lookup(cve string) (Entry, bool) {
	i, ok := slices.BinarySearchFunc(c.Entries, cve, func(e Entry, id string) int { return strings.Compare(e.CVE, id) })
	if !ok {
		return Entry{}, false
	}
	return c.Entries[i], true
}

type rawCatalog struct {
	Title           string            `json:"title"`
	CatalogVersion  string            `json:"catalogVersion"`
	DateReleased    string            `json:"dateReleased"`
	Count           *int              `json:"count"`
	Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
}

type rawEntry struct {
	CVE        string `json:"cveID"`
	DateAdded  string `json:"dateAdded"`
	DueDate    string `json:"dueDate"`
	Ransomware string `json:"knownRansomwareCampaignUse"`
}

var cveRE = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,10}$`)

// ValidCVE reports whether id has the form CVE-YYYY-NNNN(N...).
func ValidCVE(id string) bool { return cveRE.MatchString(id) }

// Parse reads a catalogue. A catalogue that is not KEV JSON at all is an
// error; an entry that cannot be used (no valid CVE ID, bad date) is
// skipped and reported in a *plugin.PartialError returned with the
// catalogue, as "vulnerabilities[3]: ...".
func Parse(r io.Reader) (*Catalog, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read catalogue: %w", err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("catalogue larger than %d bytes", MaxSize)
	}
	var raw rawCatalog
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decode catalogue: %w", err)
	}
	if raw.Vulnerabilities == nil {
		return nil, errors.New("not a KEV catalogue: no \"vulnerabilities\" array")
	}
	c := &Catalog{Title: raw.Title, CatalogVersion: raw.CatalogVersion}
	var problems plugin.Problems
	if raw.DateReleased != "" {
		t, err := time.Parse(time.RFC3339Nano, raw.DateReleased)
		if err != nil {
			problems.Addf("dateReleased %q: not an RFC 3339 time", raw.DateReleased)
		}
		c.DateReleased = t
	}
	c.Entries = make([]Entry, 0, len(raw.Vulnerabilities))
	for i, msg := range raw.Vulnerabilities {
		e, err := parseEntry(msg)
		if err != nil {
			problems.Addf("vulnerabilities[%d]: %v", i, err)
			continue
		}
		c.Entries = append(c.Entries, e)
	}
	if raw.Count != nil && *raw.Count != len(raw.Vulnerabilities) {
		problems.Addf("count is %d but the catalogue lists %d vulnerabilities", *raw.Count, len(raw.Vulnerabilities))
	}
	slices.SortFunc(c.Entries, func(a, b Entry) int { return strings.Compare(a.CVE, b.CVE) })
	c.Entries = slices.CompactFunc(c.Entries, func(a, b Entry) bool { return a.CVE == b.CVE })
	return c, problems.Err()
}

func parseEntry(msg json.RawMessage) (Entry, error) {
	var re rawEntry
	if err := json.Unmarshal(msg, &re); err != nil {
		return Entry{}, err
	}
	if !ValidCVE(re.CVE) {
		return Entry{}, fmt.Errorf("cveID %q: not a CVE ID", re.CVE)
	}
	e := Entry{CVE: re.CVE, KnownRansomwareCampaignUse: re.Ransomware == "Known"}
	var err error
	if e.DateAdded, err = parseDate(re.DateAdded); err != nil || re.DateAdded == "" {
		return Entry{}, fmt.Errorf("%s: dateAdded %q: not a date", re.CVE, re.DateAdded)
	}
	if e.DueDate, err = parseDate(re.DueDate); err != nil {
		return Entry{}, fmt.Errorf("%s: dueDate %q: not a date", re.CVE, re.DueDate)
	}
	return e, nil
}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.DateOnly, s)
}
