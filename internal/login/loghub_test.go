package login

import (
	"bufio"
	"encoding/csv"
	"os"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/authlog"
	"github.com/vigilsec/vigil/internal/detect"
)

const loghubDir = "/work/shared/data/authlog/"

// TestLoghubBruteForce runs the loghub OpenSSH sample (2,000 lines of a
// real server under attack) through authlog.ParseLine, Convert and the
// shipped auth rules, and checks VGL-AUTH-BRUTEFORCE fires for exactly
// the source addresses that have the rule's threshold of failed attempts
// within its window — computed independently, from loghub's own
// structured CSV (the event templates of each line).
func TestLoghubBruteForce(t *testing.T) {
	logPath, csvPath := loghubDir+"loghub-OpenSSH_2k.log", loghubDir+"loghub-OpenSSH_2k.log_structured.csv"
	if _, err := os.Stat(logPath); err != nil {
		t.Skipf("loghub corpus absent (%v)", err)
	}
	rs, err := LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	var window time.Duration
	threshold := 0
	for _, f := range rs.Files {
		for _, r := range f.Rules {
			if r.ID == "VGL-AUTH-BRUTEFORCE" {
				window, _ = time.ParseDuration(r.Aggregate.Window)
				threshold = r.Aggregate.Threshold
			}
		}
	}
	want, failures := loghubExpectation(t, csvPath, window, threshold)

	eng, err := detect.New(rs, detect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &Pipeline{Engine: eng}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []authlog.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if r, ok := authlog.ParseLine(sc.Text(), ref); ok {
			recs = append(recs, r)
		}
	}
	SortByTime(recs)
	got := map[string]bool{}
	byRule := map[string]int{}
	gotFailures := 0
	for _, r := range recs {
		ev, alerts := p.Handle(r)
		if ev.Auth.Outcome == OutcomeFailure {
			gotFailures += ev.Auth.Count
		}
		for _, a := range alerts {
			byRule[a.Rule.ID]++
			if a.Rule.ID == "VGL-AUTH-BRUTEFORCE" {
				got[a.Evidence["src_ip"].(string)] = true
			}
		}
	}
	if gotFailures != failures {
		t.Errorf("failed attempts: parsed %d, the CSV has %d", gotFailures, failures)
	}
	if d := cmp.Diff(sortedSet(want), sortedSet(got)); d != "" {
		t.Errorf("brute-force source addresses (-want +got):\n%s", d)
	}
	t.Logf("%d records, %d failed attempts, %d addresses over %d failures in %v: %v; alerts by rule %v",
		len(recs), gotFailures, len(want), threshold, window, sortedSet(want), byRule)
}

var (
	fromRE     = regexp.MustCompile(` from (\S+) port \d+`)
	repeatedRE = regexp.MustCompile(`^message repeated (\d+) times`)
)

// loghubExpectation reads the structured CSV: failed attempts are the
// "Failed password/none for …" templates (E8, E9, E10) and "message
// repeated N times: [ Failed password …]" (E14, N attempts). An address
// is expected when some window holds threshold of its attempts.
func loghubExpectation(t *testing.T, path string, window time.Duration, threshold int) (map[string]bool, int) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	times := map[string][]time.Time{}
	total := 0
	for _, r := range rows[1:] { // LineId,Date,Day,Time,Component,Pid,Content,EventId,EventTemplate
		n := 0
		switch r[7] {
		case "E8", "E9", "E10":
			n = 1
		case "E14":
			m := repeatedRE.FindStringSubmatch(r[6])
			if m == nil {
				t.Fatalf("E14 line %s: %q", r[0], r[6])
			}
			n, _ = strconv.Atoi(m[1])
		default:
			continue
		}
		m := fromRE.FindStringSubmatch(r[6])
		if m == nil {
			t.Fatalf("line %s: no address in %q", r[0], r[6])
		}
		at, err := time.Parse("Jan 2 15:04:05", r[1]+" "+r[2]+" "+r[3])
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			times[m[1]] = append(times[m[1]], at)
		}
		total += n
	}
	want := map[string]bool{}
	for ip, ts := range times {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		for i := range ts {
			j := i + threshold - 1
			if j < len(ts) && ts[j].Sub(ts[i]) <= window {
				want[ip] = true
				break
			}
		}
	}
	return want, total
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
