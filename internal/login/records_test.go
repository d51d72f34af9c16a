package login

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/authlog"
	"github.com/vigilsec/vigil/internal/detect"
)

// TestRecordsByTime checks Records against SortByTime on records spread
// over several chunks, with many equal times (whose order must be kept).
func TestRecordsByTime(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var rs Records
	var want []authlog.Event
	for i := 0; i < 3*maxChunk+17; i++ {
		r := authlog.Event{Time: t0.Add(time.Duration((i*7919)%101) * time.Second), PID: i, Service: "sshd"}
		want = append(want, r)
		rs.Add(&r)
		r.Service = "changed after Add" // Add keeps a copy
	}
	SortByTime(want)
	got := rs.ByTime()
	if rs.Len() != len(want) || len(got) != len(want) {
		t.Fatalf("Len %d, ByTime %d records, want %d", rs.Len(), len(got), len(want))
	}
	for i := range want {
		if got[i].PID != want[i].PID || !got[i].Time.Equal(want[i].Time) || got[i].Service != "sshd" {
			t.Fatalf("record %d: got PID %d at %v, want PID %d at %v", i, got[i].PID, got[i].Time, want[i].PID, want[i].Time)
		}
	}
	var empty Records
	if n := len(empty.ByTime()); n != 0 || empty.Len() != 0 {
		t.Errorf("empty Records: %d records", n)
	}
}

// TestAlertsMatchesHandle runs the same records through Handle and
// Alerts on two engines and checks they raise the same alerts: Alerts
// reuses memory between records, which must not show in any alert.
func TestAlertsMatchesHandle(t *testing.T) {
	recs := pipelineRecords(t)
	run := func(judge func(p *Pipeline, r *authlog.Event) []*alert.Alert) []*alert.Alert {
		rs, err := LoadRules()
		if err != nil {
			t.Fatal(err)
		}
		eng, err := detect.New(rs, detect.Options{})
		if err != nil {
			t.Fatal(err)
		}
		an, err := New(Config{LearningMin: 1}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := &Pipeline{Engine: eng, Analyzer: an}
		var out []*alert.Alert
		for i := range recs {
			out = append(out, judge(p, &recs[i])...)
		}
		return out
	}
	viaHandle := run(func(p *Pipeline, r *authlog.Event) []*alert.Alert { _, a := p.Handle(*r); return a })
	viaAlerts := run(func(p *Pipeline, r *authlog.Event) []*alert.Alert { return p.Alerts(r) })
	if len(viaHandle) < 3 {
		t.Fatalf("only %d alerts: the records should raise several", len(viaHandle))
	}
	if d := cmp.Diff(viaHandle, viaAlerts, cmpopts.IgnoreFields(alert.Alert{}, "ID")); d != "" {
		t.Errorf("Alerts differs from Handle (-Handle +Alerts):\n%s", d)
	}
}

// pipelineRecords are brute-force, spraying and success records, and
// the loghub sample when present.
func pipelineRecords(t *testing.T) []authlog.Event {
	t0 := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	var recs []authlog.Event
	for i := 0; i < 40; i++ {
		recs = append(recs, authlog.Event{Time: t0.Add(time.Duration(i) * time.Second), Service: "sshd",
			Kind: authlog.KindFailure, Method: "password", User: fmt.Sprintf("u%d", i%6), Count: 1,
			SourceIP: netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 3)}), Raw: fmt.Sprintf("line %d", i)})
	}
	recs = append(recs, authlog.Event{Time: t0.Add(time.Minute), Service: "sshd", Kind: authlog.KindSuccess,
		Method: "password", User: "u1", Count: 1, SourceIP: netip.AddrFrom4([4]byte{203, 0, 113, 1})})
	f, err := os.Open(loghubDir + "loghub-OpenSSH_2k.log")
	if err != nil {
		t.Logf("loghub corpus absent (%v): synthetic records only", err)
		return recs
	}
	defer f.Close()
	var rs Records
	for _, r := range recs {
		rs.Add(&r)
	}
	ref := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := authlog.ReadSyslog(bufio.NewReader(f), ref, rs.Add); err != nil {
		t.Fatal(err)
	}
	out := make([]authlog.Event, 0, rs.Len())
	for _, r := range rs.ByTime() {
		out = append(out, *r)
	}
	return out
}
