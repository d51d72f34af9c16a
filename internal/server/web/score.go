package web

import (
	"context"
	"math"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

// Score is the fleet's security score and what lowers it.
type Score struct {
	Score      int         `json:"score"` // 0–100, 100 is best
	Deductions []Deduction `json:"deductions"`
}

// Deduction is one reason the score is below 100.
type Deduction struct {
	Reason string  `json:"reason"`
	Count  int     `json:"count"`
	Points float64 `json:"points"` // subtracted, after the cap
	Cap    float64 `json:"cap"`
	Link   string  `json:"link"` // console page listing the cause
}

// ScoreInputs are the counts the score is computed from.
type ScoreInputs struct {
	OpenAlerts     map[severity.Level]int // open alerts by severity
	UrgentVulns    int                    // critical/high vulnerabilities with priority ≥ 70
	OtherHighVulns int                    // critical/high vulnerabilities with priority < 70
	ActiveHosts    int                    // hosts not revoked
	OfflineHosts   int                    // active hosts not online (never-seen ones included)
	NeverSeen      int                    // active hosts that never reported
	RevokedHosts   int
}

// scoreRule is one term of the formula: points per item, capped.
type scoreRule struct {
	reason string
	per    float64
	cap    float64
	link   string
	count  func(ScoreInputs) int
}

// scoreRules is the formula, documented in docs/api.md ("Security score").
var scoreRules = []scoreRule{
	{"open critical alerts", 10, 40, "/alerts?status=open&severity=critical", func(in ScoreInputs) int { return in.OpenAlerts[severity.Critical] }},
	{"open high alerts", 4, 20, "/alerts?status=open&severity=high", func(in ScoreInputs) int { return in.OpenAlerts[severity.High] }},
	{"open medium alerts", 1, 10, "/alerts?status=open&severity=medium", func(in ScoreInputs) int { return in.OpenAlerts[severity.Medium] }},
	{"open low alerts", 0.2, 5, "/alerts?status=open&severity=low", func(in ScoreInputs) int { return in.OpenAlerts[severity.Low] }},
	{"critical/high vulnerabilities with priority ≥ 70", 3, 25, "/vulns?min_severity=high", func(in ScoreInputs) int { return in.UrgentVulns }},
	{"critical/high vulnerabilities with priority < 70", 0.5, 10, "/vulns?min_severity=high", func(in ScoreInputs) int { return in.OtherHighVulns }},
	{"revoked hosts", 1, 5, "/hosts?revoked=true", func(in ScoreInputs) int { return in.RevokedHosts }},
	{"hosts never seen", 2, 10, "/hosts", func(in ScoreInputs) int { return in.NeverSeen }},
}

// offlineCap is the most offline hosts can cost: all active hosts offline.
const offlineCap = 20

// ComputeScore applies the formula: 100 minus each term's points (count ×
// per-item points, capped), minus offlineCap × the share of active hosts
// that are offline (never-seen hosts count once, under "never seen"),
// rounded and clamped to 0–100.
func ComputeScore(in ScoreInputs) Score {
	sc := Score{Deductions: []Deduction{}}
	total := 0.0
	for _, r := range scoreRules {
		n := r.count(in)
		if n <= 0 {
			continue
		}
		pts := math.Min(float64(n)*r.per, r.cap)
		total += pts
		sc.Deductions = append(sc.Deductions, Deduction{Reason: r.reason, Count: n, Points: round1(pts), Cap: r.cap, Link: r.link})
	}
	if off := in.OfflineHosts - in.NeverSeen; off > 0 && in.ActiveHosts > 0 {
		pts := offlineCap * float64(off) / float64(in.ActiveHosts)
		pts = math.Min(pts, offlineCap)
		total += pts
		sc.Deductions = append(sc.Deductions, Deduction{Reason: "offline hosts", Count: off, Points: round1(pts), Cap: offlineCap, Link: "/hosts?sort=last_seen"})
	}
	sc.Score = int(math.Max(0, math.Min(100, math.Round(100-total))))
	return sc
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// urgentPriority is the vulnerability priority from which a finding is
// urgent (docs/priority.md: KEV-listed or exposed criticals reach it).
const urgentPriority = 70

// fleet is what the dashboard shows about hosts.
type fleet struct {
	Active    int `json:"active"`
	Online    int `json:"online"`
	Offline   int `json:"offline"`
	NeverSeen int `json:"never_seen"`
	Revoked   int `json:"revoked"`
}

// scanFleet counts the fleet in the store. A host is online when it was
// seen within OnlineWindow: whichever server replica its agent is connected
// to records its heartbeats there within a second.
func (s *server) scanFleet(ctx context.Context) (fleet, error) {
	n, err := s.st.FleetCounts(ctx, s.now().Add(-OnlineWindow))
	if err != nil {
		return fleet{}, err
	}
	return fleet{Active: n.Active, Online: n.Seen, Offline: n.Active - n.Seen, NeverSeen: n.NeverSeen, Revoked: n.Revoked}, nil
}

// dashboard is the data behind the dashboard page and /api/v1/dashboard.
type dashboard struct {
	Score      Score               `json:"score"`
	Hosts      fleet               `json:"hosts"`
	OpenAlerts openCounts          `json:"-"`
	Vulns      []store.VulnSummary `json:"-"`
}

func (s *server) dashboard(ctx context.Context) (dashboard, error) {
	var d dashboard
	var err error
	if d.Hosts, err = s.scanFleet(ctx); err != nil {
		return d, err
	}
	if d.OpenAlerts, err = s.openAlertCounts(ctx); err != nil {
		return d, err
	}
	// Most urgent first: the ones that count are at the head.
	if d.Vulns, err = s.st.ListVulns(ctx, store.VulnFilter{MinSeverity: severity.High, Limit: maxPageLimit}); err != nil {
		return d, err
	}
	in := ScoreInputs{OpenAlerts: d.OpenAlerts.BySeverity, ActiveHosts: d.Hosts.Active, OfflineHosts: d.Hosts.Offline,
		NeverSeen: d.Hosts.NeverSeen, RevokedHosts: d.Hosts.Revoked}
	for _, v := range d.Vulns {
		if v.Priority >= urgentPriority {
			in.UrgentVulns++
		} else {
			in.OtherHighVulns++
		}
	}
	d.Score = ComputeScore(in)
	return d, nil
}

// openCounts are open alerts by severity and by ATT&CK tactic.
type openCounts struct {
	BySeverity map[severity.Level]int
	ByTactic   map[string]int
}

// openAlertCounts counts open alerts per severity and per known tactic,
// exactly: the store keeps the counts as alerts are stored and handled.
func (s *server) openAlertCounts(ctx context.Context) (openCounts, error) {
	st, err := s.st.AlertStats(ctx, store.AlertFilter{Status: store.StatusOpen})
	if err != nil {
		return openCounts{}, err
	}
	oc := openCounts{BySeverity: st.BySeverity, ByTactic: map[string]int{}}
	for id, n := range st.ByTactic {
		if _, known := Tactics[id]; known && n > 0 {
			oc.ByTactic[id] = n
		}
	}
	return oc, nil
}
