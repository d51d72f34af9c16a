package login

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/geoip"
	"github.com/vigilsec/vigil/internal/severity"
)

// The rule IDs of the analyzers' alerts.
const (
	// RuleNewCountry: a successful login from a country the account has
	// not logged in from, after the learning minimum.
	RuleNewCountry = "VGL-LOGIN-NEW-COUNTRY"
	// RuleNewASN: from a network operator (AS) the account has not used,
	// in a known country.
	RuleNewASN = "VGL-LOGIN-NEW-ASN"
	// RuleImpossibleTravel: two successive logins of an account further
	// apart than MaxSpeedKMH allows.
	RuleImpossibleTravel = "VGL-LOGIN-IMPOSSIBLE-TRAVEL"
	// RuleUnusualLocation: from a country outside Config.Countries.
	RuleUnusualLocation = "VGL-LOGIN-UNUSUAL-LOCATION"
	// RuleUnusualNetwork: from an address outside Config.Networks.
	RuleUnusualNetwork = "VGL-LOGIN-UNUSUAL-NETWORK"
	// RuleUnusualHour: at an hour outside Config.Hours.
	RuleUnusualHour = "VGL-LOGIN-UNUSUAL-HOUR"
	// RuleUnexpectedAccount: by an account outside Config.Accounts.
	RuleUnexpectedAccount = "VGL-LOGIN-UNEXPECTED-ACCOUNT"
)

// ruleInfo is the fixed part of each analyzer alert.
var ruleInfo = map[string]struct {
	title      string
	sev        severity.Level
	tactics    []string
	techniques []string
}{
	RuleNewCountry:        {"Login from a new country for this account", severity.High, []string{"TA0001", "TA0003"}, []string{"T1078"}},
	RuleNewASN:            {"Login from a new network operator for this account", severity.Medium, []string{"TA0001"}, []string{"T1078"}},
	RuleImpossibleTravel:  {"Impossible travel between two logins of one account", severity.High, []string{"TA0001"}, []string{"T1078"}},
	RuleUnusualLocation:   {"Login from outside the usual countries", severity.High, []string{"TA0001"}, []string{"T1078"}},
	RuleUnusualNetwork:    {"Login from outside the usual networks", severity.Medium, []string{"TA0001"}, []string{"T1078"}},
	RuleUnusualHour:       {"Login outside the usual hours", severity.Low, []string{"TA0001"}, []string{"T1078"}},
	RuleUnexpectedAccount: {"Login by an account not expected to log in", severity.High, []string{"TA0001", "TA0003"}, []string{"T1078"}},
}

// RuleIDs lists the analyzers' rule IDs.
func RuleIDs() []string {
	ids := make([]string, 0, len(ruleInfo))
	for id := range ruleInfo {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Config configures an Analyzer. The zero value learns baselines and
// alerts on new countries, new networks operators and impossible travel
// with the defaults; the "usual" lists switch their rules on.
type Config struct {
	// LearningMin is how many successful logins an account needs before
	// new-country and new-ASN alerts (default 5).
	LearningMin int
	// MaxSpeedKMH is the fastest believable travel between two logins
	// (default 1000 km/h, a little above an airliner).
	MaxSpeedKMH float64
	// Countries are the ISO codes logins are expected from; when set, a
	// login located elsewhere raises VGL-LOGIN-UNUSUAL-LOCATION. Internal
	// addresses always pass.
	Countries []string
	// Networks are the source networks logins are expected from; when
	// set, a login from elsewhere raises VGL-LOGIN-UNUSUAL-NETWORK.
	Networks []netip.Prefix
	// Hours are the hours of day (0–23, in Zone) logins are expected at;
	// when set, a login at another hour raises VGL-LOGIN-UNUSUAL-HOUR.
	Hours []int
	// Zone is the time zone of Hours and of the learnt hours (default UTC).
	Zone *time.Location
	// Accounts are the accounts expected to log in; when set, a login by
	// another raises VGL-LOGIN-UNEXPECTED-ACCOUNT.
	Accounts []string
	// Disabled are analyzer rule IDs not to raise.
	Disabled []string
	// MaxAccounts bounds the accounts kept (default 10000; the least
	// recently seen goes first); MaxEntries bounds each account's
	// countries, AS numbers and networks (default 64, least used first).
	MaxAccounts, MaxEntries int
	// Host is the alerts' host; empty means the event's.
	Host string
}

// Analyzer judges successful logins against the accounts' baselines and
// learns from them. It is safe for concurrent use.
type Analyzer struct {
	mu    sync.Mutex
	cfg   Config
	geo   *geoip.DB
	base  *Baseline
	dirty bool
}

// New returns an analyzer with baseline b (nil: empty) locating addresses
// with geo (nil: internal addresses only, so country, AS and travel
// alerts do not fire).
func New(cfg Config, geo *geoip.DB, b *Baseline) (*Analyzer, error) {
	if cfg.LearningMin <= 0 {
		cfg.LearningMin = 5
	}
	if cfg.MaxSpeedKMH <= 0 {
		cfg.MaxSpeedKMH = 1000
	}
	if cfg.Zone == nil {
		cfg.Zone = time.UTC
	}
	if cfg.MaxAccounts <= 0 {
		cfg.MaxAccounts = 10000
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 64
	}
	for _, h := range cfg.Hours {
		if h < 0 || h > 23 {
			return nil, fmt.Errorf("login: hour %d: want 0–23", h)
		}
	}
	for _, id := range cfg.Disabled {
		if _, ok := ruleInfo[id]; !ok {
			return nil, fmt.Errorf("login: disabled rule %q: unknown", id)
		}
	}
	if b == nil {
		b = NewBaseline()
	}
	return &Analyzer{cfg: cfg, geo: geo, base: b}, nil
}

// Baseline returns the analyzer's baseline; it must not be changed while
// the analyzer runs. Save it with SaveFile (Dirty says whether it changed).
func (a *Analyzer) Baseline() *Baseline { return a.base }

// Save writes the baseline to path when it changed since the last Save.
func (a *Analyzer) Save(path string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.dirty {
		return nil
	}
	if err := a.base.SaveFile(path); err != nil {
		return err
	}
	a.dirty = false
	return nil
}

// isLogin reports whether ev is a successful login: an auth success of a
// service other than su and sudo (which change users, not log in).
func isLogin(ev *event.Event) bool {
	au := ev.Auth
	return ev.Kind == event.Auth && au != nil && au.Outcome == OutcomeSuccess && au.User != "" &&
		au.Service != "su" && au.Service != "sudo"
}

// Observe judges one event and learns from it; events other than
// successful logins are ignored. Events should come in time order.
func (a *Analyzer) Observe(ev *event.Event) []*alert.Alert {
	if ev == nil || !isLogin(ev) {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	au := ev.Auth
	var out []*alert.Alert
	emit := func(id string, ev *event.Event, ev2 map[string]any) {
		if slices.Contains(a.cfg.Disabled, id) {
			return
		}
		out = append(out, a.newAlert(id, ev, ev2))
	}

	cur := Place{Time: ev.Time}
	var ip netip.Addr
	var loc geoip.Location
	if au.SrcIP != "" {
		if p, err := netip.ParseAddr(au.SrcIP); err == nil {
			ip = p.Unmap()
			cur.IP = ip.String()
			if l, err := a.geo.Lookup(ip); err == nil {
				loc = l
			}
			cur.Country, cur.City = loc.Country, loc.City
			cur.HasCoords, cur.Lat, cur.Lon, cur.RadiusKM = loc.HasCoords, loc.Lat, loc.Lon, loc.RadiusKM
		}
	}
	acct := a.base.Accounts[au.User]
	evid := map[string]any{"user": au.User, "service": au.Service}
	if ip.IsValid() {
		evid["src_ip"] = cur.IP
	}
	if loc.Country != "" {
		evid["country"] = loc.Country
	}
	if loc.City != "" {
		evid["city"] = loc.City
	}
	if loc.ASN != 0 {
		evid["asn"] = loc.ASN
		evid["as_org"] = loc.Org
	}
	with := func(extra map[string]any) map[string]any {
		m := make(map[string]any, len(evid)+len(extra))
		for k, v := range evid {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	// Configured expectations.
	if len(a.cfg.Accounts) > 0 && !slices.Contains(a.cfg.Accounts, au.User) {
		emit(RuleUnexpectedAccount, ev, with(map[string]any{"expected_accounts": a.cfg.Accounts}))
	}
	hour := ev.Time.In(a.cfg.Zone).Hour()
	if len(a.cfg.Hours) > 0 && !slices.Contains(a.cfg.Hours, hour) {
		emit(RuleUnusualHour, ev, with(map[string]any{"hour": hour, "zone": a.cfg.Zone.String()}))
	}
	if ip.IsValid() && len(a.cfg.Networks) > 0 && !slices.ContainsFunc(a.cfg.Networks, func(p netip.Prefix) bool { return p.Contains(ip) }) {
		nets := make([]string, len(a.cfg.Networks))
		for i, p := range a.cfg.Networks {
			nets[i] = p.String()
		}
		emit(RuleUnusualNetwork, ev, with(map[string]any{"expected_networks": nets}))
	}
	external := ip.IsValid() && loc.Country != "" && loc.Country != geoip.Internal
	if external && len(a.cfg.Countries) > 0 && !slices.Contains(a.cfg.Countries, loc.Country) {
		emit(RuleUnusualLocation, ev, with(map[string]any{"expected_countries": a.cfg.Countries}))
	}

	// Against the account's history.
	if acct != nil && external {
		learnt := acct.Logins >= a.cfg.LearningMin
		asn := strconv.FormatUint(uint64(loc.ASN), 10)
		newCountry := acct.Countries[loc.Country] == 0
		if learnt && newCountry {
			emit(RuleNewCountry, ev, with(map[string]any{"known_countries": sortedKeys(acct.Countries), "logins": acct.Logins}))
		} else if learnt && loc.ASN != 0 && acct.ASNs[asn] == 0 {
			emit(RuleNewASN, ev, with(map[string]any{"known_asns": sortedKeys(acct.ASNs), "logins": acct.Logins}))
		}
		if prev := acct.Last; prev != nil && prev.HasCoords && cur.HasCoords && prev.IP != cur.IP {
			dist := geoip.DistanceKM(prev.Lat, prev.Lon, cur.Lat, cur.Lon)
			eff := dist - float64(prev.RadiusKM) - float64(cur.RadiusKM)
			hours := ev.Time.Sub(prev.Time).Hours()
			if eff > 0 {
				speed := math.Inf(1)
				if hours > 0 {
					speed = eff / hours
				}
				if speed > a.cfg.MaxSpeedKMH {
					sp := any("instant")
					if !math.IsInf(speed, 1) {
						sp = math.Round(speed)
					}
					emit(RuleImpossibleTravel, ev, with(map[string]any{
						"previous_ip": prev.IP, "previous_country": prev.Country, "previous_city": prev.City,
						"previous_time": prev.Time.UTC(), "previous_lat": prev.Lat, "previous_lon": prev.Lon,
						"distance_km": math.Round(dist), "speed_kmh": sp, "max_speed_kmh": a.cfg.MaxSpeedKMH,
					}))
				}
			}
		}
	}
	a.learn(au.User, acct, cur, ip, loc, hour)
	return out
}

// learn adds a login to the account's baseline.
func (a *Analyzer) learn(user string, acct *Account, cur Place, ip netip.Addr, loc geoip.Location, hour int) {
	if acct == nil {
		if len(a.base.Accounts) >= a.cfg.MaxAccounts {
			a.evictAccount()
		}
		acct = &Account{}
		a.base.Accounts[user] = acct
	}
	acct.Logins++
	acct.Hours[hour]++
	if loc.Country != "" {
		acct.Countries = inc(acct.Countries, loc.Country, a.cfg.MaxEntries)
	}
	if loc.ASN != 0 {
		acct.ASNs = inc(acct.ASNs, strconv.FormatUint(uint64(loc.ASN), 10), a.cfg.MaxEntries)
	}
	if ip.IsValid() {
		acct.Networks = inc(acct.Networks, networkOf(ip).String(), a.cfg.MaxEntries)
		// Only located logins are travel waypoints; internal ones keep the
		// previous external one.
		if cur.HasCoords || acct.Last == nil {
			c := cur
			acct.Last = &c
		}
	}
	a.dirty = true
}

// networkOf is ip's /24 (IPv4) or /48 (IPv6).
func networkOf(ip netip.Addr) netip.Prefix {
	bits := 24
	if ip.Is6() {
		bits = 48
	}
	p, _ := ip.Prefix(bits)
	return p
}

func inc(m map[string]int, k string, max int) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k]++
	if len(m) > max {
		// Keep the new key: it is the one being learnt.
		n := m[k]
		delete(m, k)
		bound(m, max-1)
		m[k] = n
	}
	return m
}

// evictAccount drops the account whose last login is oldest.
func (a *Analyzer) evictAccount() {
	var victim string
	var oldest time.Time
	first := true
	for name, acct := range a.base.Accounts {
		var t time.Time
		if acct.Last != nil {
			t = acct.Last.Time
		}
		if first || t.Before(oldest) || (t.Equal(oldest) && name < victim) {
			victim, oldest, first = name, t, false
		}
	}
	delete(a.base.Accounts, victim)
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (a *Analyzer) newAlert(id string, ev *event.Event, evid map[string]any) *alert.Alert {
	ri := ruleInfo[id]
	host := a.cfg.Host
	if host == "" {
		host = ev.Host
	}
	evid["kind"] = string(ev.Kind)
	techs := ri.techniques
	if ev.Auth.Service == "sshd" {
		techs = append(slices.Clone(techs), "T1021.004")
	}
	return &alert.Alert{
		ID:       alert.NewID(),
		Time:     ev.Time.UTC(),
		Host:     host,
		Rule:     alert.Rule{ID: id, Version: 1, Title: ri.title},
		Severity: ri.sev,
		Attack:   alert.Attack{Tactics: slices.Clone(ri.tactics), Techniques: techs},
		Process:  alert.ProcessOf(&ev.Process),
		Evidence: evid,
		Response: alert.Response{Action: "none"},
		Count:    1,
	}
}
