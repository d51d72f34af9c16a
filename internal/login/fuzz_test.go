package login

import (
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/authlog"
	"github.com/vigilsec/vigil/internal/detect"
)

// FuzzConvert parses arbitrary syslog and journal lines, converts what
// parses and runs it through the auth rules and the analyzer: nothing may
// panic, and converted events keep their invariants.
func FuzzConvert(f *testing.F) {
	for _, s := range []string{
		"Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
		"Nov 20 10:00:30 web1 sshd[1205]: Accepted password for root from 203.0.113.50 port 40100 ssh2",
		"Nov 20 10:00:01 web1 sshd[1201]: message repeated 3 times: [ Failed password for root from 203.0.113.50 port 40001 ssh2]",
		"Nov 20 10:06:03 web1 sudo[2301]:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
		"Nov 20 10:05:03 web1 su[2201]: FAILED SU (to root) alice on pts/0",
		`{"__REALTIME_TIMESTAMP":"1763370000000000","SYSLOG_IDENTIFIER":"sshd","_PID":"1","MESSAGE":"Accepted publickey for alice from 2001:db8::1 port 5 ssh2"}`,
	} {
		f.Add(s)
	}
	rs, err := LoadRules()
	if err != nil {
		f.Fatal(err)
	}
	eng, err := detect.New(rs, detect.Options{MaxGroups: 64, MaxSuppressed: 64})
	if err != nil {
		f.Fatal(err)
	}
	an, err := New(Config{LearningMin: 1, MaxAccounts: 8, MaxEntries: 4}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	p := &Pipeline{Engine: eng, Analyzer: an}
	ref := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		var recs []authlog.Event
		if r, ok := authlog.ParseLine(line, ref); ok {
			recs = append(recs, r)
		}
		if r, ok, err := authlog.ParseJournalJSON([]byte(line)); err == nil && ok {
			recs = append(recs, r)
		}
		for _, r := range recs {
			ev, alerts := p.Handle(r)
			au := ev.Auth
			if au == nil || au.Count < 1 || (au.Outcome != OutcomeSuccess && au.Outcome != OutcomeFailure && au.Outcome != OutcomeInfo) {
				t.Fatalf("converted %+v from %q", au, line)
			}
			if r.SourceIP.IsValid() != (au.SrcIP != "") {
				t.Fatalf("source %v became %q", r.SourceIP, au.SrcIP)
			}
			for _, a := range alerts {
				if a.Rule.ID == "" || a.Evidence == nil {
					t.Fatalf("alert %+v", a)
				}
			}
		}
	})
}
