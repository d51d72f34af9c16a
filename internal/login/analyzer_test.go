package login

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/geoip"
	"github.com/vigilsec/vigil/internal/geoip/geoiptest"
)

var day0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func testGeo(t *testing.T) *geoip.DB {
	t.Helper()
	db, err := geoip.OpenBytes(geoiptest.City(t, geoiptest.Places), geoiptest.ASN(t, geoiptest.Places))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func loginEv(at time.Time, user, ip string) *event.Event {
	return &event.Event{Kind: event.Auth, Time: at, Host: "web1",
		Auth: &event.AuthInfo{Service: "sshd", Outcome: OutcomeSuccess, Method: "publickey", User: user, SrcIP: ip}}
}

func ruleIDs(as []*alert.Alert) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.Rule.ID)
	}
	return out
}

func find(as []*alert.Alert, id string) *alert.Alert {
	for _, a := range as {
		if a.Rule.ID == id {
			return a
		}
	}
	return nil
}

func TestBaselineAlerts(t *testing.T) {
	a, err := New(Config{}, testGeo(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		ev   *event.Event
		want []string
	}{
		{"first_login", loginEv(day0, "alice", "198.51.100.10"), nil},
		{"learning_1", loginEv(day0.Add(24*time.Hour), "alice", "198.51.100.11"), nil},
		{"learning_2", loginEv(day0.Add(48*time.Hour), "alice", "198.51.100.12"), nil},
		{"learning_3", loginEv(day0.Add(72*time.Hour), "alice", "198.51.100.13"), nil},
		{"learning_4", loginEv(day0.Add(96*time.Hour), "alice", "198.51.100.14"), nil},
		// Learnt (5 logins): Sydney one hour after Berlin.
		{"sydney_1h_later", loginEv(day0.Add(97*time.Hour), "alice", "203.0.113.5"), []string{RuleNewCountry, RuleImpossibleTravel}},
		// Back to Berlin 30 h later: known country, travel believable.
		{"berlin_again", loginEv(day0.Add(127*time.Hour), "alice", "198.51.100.10"), nil},
		// Potsdam: same country, another AS, 30 km — within the radii.
		{"new_asn", loginEv(day0.Add(128*time.Hour), "alice", "198.18.0.9"), []string{RuleNewASN}},
		// A new account from Sydney: no history, no alert.
		{"new_account", loginEv(day0.Add(129*time.Hour), "bob", "203.0.113.6"), nil},
		// Internal addresses are never new countries or travel points.
		{"internal", loginEv(day0.Add(130*time.Hour), "alice", "10.0.0.8"), nil},
		// Failures and su are not logins.
		{"failure", &event.Event{Kind: event.Auth, Time: day0.Add(131 * time.Hour), Auth: &event.AuthInfo{Service: "sshd", Outcome: OutcomeFailure, User: "alice", SrcIP: "192.0.2.1"}}, nil},
		{"su", &event.Event{Kind: event.Auth, Time: day0.Add(131 * time.Hour), Auth: &event.AuthInfo{Service: "su", Outcome: OutcomeSuccess, User: "root", ByUser: "alice"}}, nil},
		// New York 10 h after Potsdam: 6,400 km at 640 km/h, new country only.
		{"new_york", loginEv(day0.Add(138*time.Hour), "alice", "192.0.2.7"), []string{RuleNewCountry}},
	}
	for _, s := range steps {
		got := ruleIDs(a.Observe(s.ev))
		if s.want == nil {
			s.want = []string{}
		}
		if !slices.Equal(got, s.want) {
			t.Errorf("%s: alerts %v, want %v", s.name, got, s.want)
		}
	}
	acct := a.Baseline().Accounts["alice"]
	if acct.Logins != 10 || acct.Countries["DE"] != 7 || acct.Countries["AU"] != 1 || acct.Countries["internal"] != 1 {
		t.Errorf("alice baseline: %+v", acct)
	}
	if acct.Networks["198.51.100.0/24"] != 6 || acct.Hours[9] == 0 {
		t.Errorf("alice networks/hours: %v %v", acct.Networks, acct.Hours)
	}
}

func TestImpossibleTravelEvidence(t *testing.T) {
	a, _ := New(Config{LearningMin: 100, MaxSpeedKMH: 900}, testGeo(t), nil)
	a.Observe(loginEv(day0, "carol", "198.51.100.1"))
	got := a.Observe(loginEv(day0.Add(2*time.Hour), "carol", "192.0.2.1"))
	al := find(got, RuleImpossibleTravel)
	if al == nil {
		t.Fatalf("no impossible travel: %v", ruleIDs(got))
	}
	ev := al.Evidence
	// Berlin–New York ≈ 6,385 km; minus 30 km of radii over 2 h.
	if ev["src_ip"] != "192.0.2.1" || ev["user"] != "carol" || ev["country"] != "US" || ev["asn"] != uint(64502) ||
		ev["previous_ip"] != "198.51.100.1" || ev["previous_country"] != "DE" {
		t.Errorf("evidence %v", ev)
	}
	if sp, ok := ev["speed_kmh"].(float64); !ok || sp < 3100 || sp > 3250 {
		t.Errorf("speed %v", ev["speed_kmh"])
	}
	if al.Severity.String() != "high" || !slices.Contains(al.Attack.Techniques, "T1078") || al.Host != "web1" {
		t.Errorf("alert %+v", al)
	}
	// Simultaneous logins from two continents: instant.
	a.Observe(loginEv(day0.Add(10*time.Hour), "dave", "203.0.113.1"))
	got = a.Observe(loginEv(day0.Add(10*time.Hour), "dave", "198.51.100.1"))
	if al := find(got, RuleImpossibleTravel); al == nil || al.Evidence["speed_kmh"] != "instant" {
		t.Errorf("simultaneous: %v", got)
	}
}

func TestConfiguredExpectations(t *testing.T) {
	cfg := Config{
		Countries: []string{"DE"},
		Networks:  []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("10.0.0.0/8")},
		Hours:     []int{8, 9, 10, 11, 12, 13, 14, 15, 16, 17},
		Accounts:  []string{"alice", "deploy"},
		Disabled:  []string{RuleImpossibleTravel},
	}
	a, err := New(cfg, testGeo(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		ev   *event.Event
		want []string
	}{
		{"usual", loginEv(day0, "alice", "198.51.100.1"), []string{}},
		{"internal_ok", loginEv(day0, "deploy", "10.1.1.1"), []string{}},
		{"night", loginEv(day0.Add(14*time.Hour), "alice", "198.51.100.1"), []string{RuleUnusualHour}},
		{"potsdam_other_net", loginEv(day0, "alice", "198.18.0.1"), []string{RuleUnusualNetwork}},
		{"sydney", loginEv(day0, "alice", "203.0.113.1"), []string{RuleUnusualNetwork, RuleUnusualLocation}},
		{"mallory", loginEv(day0, "mallory", "198.51.100.2"), []string{RuleUnexpectedAccount}},
	} {
		if got := ruleIDs(a.Observe(s.ev)); !slices.Equal(got, s.want) {
			t.Errorf("%s: %v, want %v", s.name, got, s.want)
		}
	}
	if _, err := New(Config{Hours: []int{24}}, nil, nil); err == nil {
		t.Error("hour 24 accepted")
	}
	if _, err := New(Config{Disabled: []string{"VGL-LOGIN-NOPE"}}, nil, nil); err == nil {
		t.Error("unknown disabled rule accepted")
	}
}

// TestPersistence checks the baseline survives a restart: a new analyzer
// loaded from the saved file knows the account at once.
func TestPersistence(t *testing.T) {
	geo := testGeo(t)
	path := filepath.Join(t.TempDir(), "data", BaselineFile)
	a, _ := New(Config{LearningMin: 3}, geo, nil)
	for i := range 3 {
		a.Observe(loginEv(day0.Add(time.Duration(i)*24*time.Hour), "alice", "198.51.100.1"))
	}
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v %v", fi, err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".login-baseline-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
	b, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := New(Config{LearningMin: 3}, geo, b)
	got := ruleIDs(a2.Observe(loginEv(day0.Add(30*24*time.Hour), "alice", "203.0.113.1")))
	if !slices.Equal(got, []string{RuleNewCountry}) {
		t.Errorf("after restart: %v", got)
	}
	// A missing file is an empty baseline.
	if b, err := LoadFile(filepath.Join(t.TempDir(), "none.json")); err != nil || len(b.Accounts) != 0 {
		t.Errorf("missing file: %v %v", b, err)
	}
}

func TestBounds(t *testing.T) {
	a, _ := New(Config{MaxAccounts: 2, MaxEntries: 2}, testGeo(t), nil)
	a.Observe(loginEv(day0, "u1", "198.51.100.1"))
	a.Observe(loginEv(day0.Add(time.Hour), "u2", "198.51.100.1"))
	a.Observe(loginEv(day0.Add(2*time.Hour), "u3", "198.51.100.1"))
	if _, ok := a.Baseline().Accounts["u1"]; ok || len(a.Baseline().Accounts) != 2 {
		t.Errorf("accounts: %v", a.Baseline().Accounts)
	}
	for i, ip := range []string{"198.51.100.1", "198.51.100.1", "203.0.113.1", "192.0.2.1"} {
		a.Observe(loginEv(day0.Add(time.Duration(10+i)*24*time.Hour), "u3", ip))
	}
	acct := a.Baseline().Accounts["u3"]
	if len(acct.Countries) != 2 || acct.Countries["DE"] == 0 || acct.Countries["US"] == 0 || len(acct.Networks) != 2 {
		t.Errorf("entries: %v %v", acct.Countries, acct.Networks)
	}
}

func TestLoadBaselineErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"not_json":       "{",
		"version":        `{"version": 7, "accounts": {}}`,
		"negative":       `{"version": 1, "accounts": {"a": {"logins": -1, "hours": []}}}`,
		"negative_count": `{"version": 1, "accounts": {"a": {"logins": 1, "countries": {"DE": -2}}}}`,
		"null_account":   `{"version": 1, "accounts": {"a": null}}`,
		"bad_last_ip":    `{"version": 1, "accounts": {"a": {"logins": 1, "last": {"ip": "nope"}}}}`,
	} {
		if _, err := LoadBaseline(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := LoadBaseline(bytes.NewReader(make([]byte, maxBaselineFile+10))); err == nil {
		t.Error("oversized: no error")
	}
}

// FuzzLoadBaseline loads arbitrary bytes as a baseline; what loads must
// be usable by an analyzer and save again.
func FuzzLoadBaseline(f *testing.F) {
	f.Add([]byte(`{"version": 1, "accounts": {"alice": {"logins": 3, "countries": {"DE": 3}, "asns": {"64500": 3}, "networks": {"198.51.100.0/24": 3}, "hours": [0,0,0,0,0,0,0,0,0,3], "last": {"time": "2026-01-01T00:00:00Z", "ip": "198.51.100.1", "country": "DE", "has_coords": true, "lat": 52.5, "lon": 13.4, "radius_km": 20}}}}`))
	f.Add([]byte(`{"version": 1}`))
	f.Add([]byte(`{"version": 1, "accounts": {"": {"logins": 0, "last": {"ip": "::1"}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := LoadBaseline(bytes.NewReader(data))
		if err != nil {
			return
		}
		a, err := New(Config{LearningMin: 1}, nil, b)
		if err != nil {
			t.Fatal(err)
		}
		for name := range b.Accounts {
			a.Observe(loginEv(day0, name, "198.51.100.1"))
		}
		a.Observe(loginEv(day0, "x", "203.0.113.1"))
		if err := a.Save(filepath.Join(t.TempDir(), BaselineFile)); err != nil {
			t.Fatal(err)
		}
	})
}
