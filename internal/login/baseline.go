package login

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// BaselineFile is the baseline's file name in the data directory.
const BaselineFile = "login-baseline.json"

// baselineVersion is the file format version.
const baselineVersion = 1

// maxBaselineFile bounds what LoadBaseline reads.
const maxBaselineFile = 64 << 20

// Baseline is what Vigil has learnt about each account's successful
// logins. It is persisted as JSON (SaveFile, LoadFile).
type Baseline struct {
	Version  int                 `json:"version"`
	Accounts map[string]*Account `json:"accounts"`
}

// Account is one account's login history, in counts.
type Account struct {
	// Logins counts the successful logins learnt.
	Logins    int            `json:"logins"`
	Countries map[string]int `json:"countries,omitempty"`
	// ASNs are keyed by the decimal AS number.
	ASNs map[string]int `json:"asns,omitempty"`
	// Networks are the /24 (IPv4) or /48 (IPv6) networks logins came from.
	Networks map[string]int `json:"networks,omitempty"`
	// Hours counts logins by hour of day (0–23, in the configured zone).
	Hours [24]int `json:"hours"`
	// Last is the latest login, for impossible travel.
	Last *Place `json:"last,omitempty"`
}

// Place is where and when one login came from.
type Place struct {
	Time      time.Time `json:"time"`
	IP        string    `json:"ip"`
	Country   string    `json:"country,omitempty"`
	City      string    `json:"city,omitempty"`
	HasCoords bool      `json:"has_coords,omitempty"`
	Lat       float64   `json:"lat,omitempty"`
	Lon       float64   `json:"lon,omitempty"`
	RadiusKM  int       `json:"radius_km,omitempty"`
}

// NewBaseline returns an empty baseline.
func NewBaseline() *Baseline {
	return &Baseline{Version: baselineVersion, Accounts: map[string]*Account{}}
}

// LoadBaseline reads a baseline written by Save. Entries that make no
// sense (negative counts, hours out of range) are an error: the file is
// ours, so a bad one is damage, not something to guess around.
func LoadBaseline(r io.Reader) (*Baseline, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBaselineFile+1))
	if err != nil {
		return nil, fmt.Errorf("login baseline: %w", err)
	}
	if len(data) > maxBaselineFile {
		return nil, fmt.Errorf("login baseline: larger than %d bytes", maxBaselineFile)
	}
	b := NewBaseline()
	if err := json.Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("login baseline: %w", err)
	}
	if b.Version != baselineVersion {
		return nil, fmt.Errorf("login baseline: version %d, want %d", b.Version, baselineVersion)
	}
	if b.Accounts == nil {
		b.Accounts = map[string]*Account{}
	}
	for name, a := range b.Accounts {
		if a == nil {
			return nil, fmt.Errorf("login baseline: account %q: empty", name)
		}
		if a.Logins < 0 {
			return nil, fmt.Errorf("login baseline: account %q: negative login count", name)
		}
		for _, m := range []map[string]int{a.Countries, a.ASNs, a.Networks} {
			for k, v := range m {
				if v < 0 {
					return nil, fmt.Errorf("login baseline: account %q: %q: negative count", name, k)
				}
			}
		}
		for h, v := range a.Hours {
			if v < 0 {
				return nil, fmt.Errorf("login baseline: account %q: hour %d: negative count", name, h)
			}
		}
		if a.Last != nil {
			if _, err := netip.ParseAddr(a.Last.IP); err != nil {
				return nil, fmt.Errorf("login baseline: account %q: last login address: %w", name, err)
			}
		}
	}
	return b, nil
}

// LoadFile reads the baseline at path; a missing file is an empty
// baseline.
func LoadFile(path string) (*Baseline, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return NewBaseline(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("login baseline: %w", err)
	}
	defer f.Close()
	b, err := LoadBaseline(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// SaveFile writes b to path atomically: a temporary file in the same
// directory, synced, then renamed over path.
func (b *Baseline) SaveFile(path string) error {
	data, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("login baseline: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("login baseline: %w", err)
	}
	f, err := os.CreateTemp(dir, ".login-baseline-*")
	if err != nil {
		return fmt.Errorf("login baseline: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename, nothing is there
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("login baseline: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("login baseline: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("login baseline: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("login baseline: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("login baseline: %w", err)
	}
	return nil
}

// bound keeps at most max entries of m, dropping the least used (then the
// lexically first, for determinism).
func bound(m map[string]int, max int) {
	if len(m) <= max {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] < m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys[:len(m)-max] {
		delete(m, k)
	}
}
