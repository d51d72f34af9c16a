package authlog

import (
	"encoding/csv"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// loghubKinds maps the event templates of loghub's OpenSSH_2k structured
// file (labelled independently of this parser) to the Kind we give them.
// Templates not listed are not authentication records.
var loghubKinds = map[string]Kind{
	"E1":  KindSuccess,           // Accepted password for <*> from <*> port <*> ssh2
	"E2":  KindPreauthDisconnect, // Connection closed by <*> [preauth]
	"E3":  KindProtocolError,     // Did not receive identification string from <*>
	"E4":  KindPreauthDisconnect, // Disconnecting: Too many authentication failures for admin [preauth]
	"E5":  KindPreauthDisconnect, // … for root [preauth]
	"E6":  KindPreauthDisconnect, // error: Received disconnect from <*>: <*>: com.jcraft.jsch.JSchException: Auth fail [preauth]
	"E7":  KindPreauthDisconnect, // error: Received disconnect from <*>: <*>: No more user authentication methods available. [preauth]
	"E8":  KindFailure,           // Failed none for invalid user <*> from <*> port <*> ssh2
	"E9":  KindFailure,           // Failed password for <*> from <*> port <*> ssh2
	"E10": KindFailure,           // Failed password for invalid user <*> from <*> port <*> ssh2
	"E13": KindInvalidUser,       // Invalid user <*> from <*>
	"E14": KindFailure,           // message repeated <*> times: [ Failed password for root from <*> port <*>]
	"E15": KindPAMFailure,        // PAM <*> more authentication failure; …
	"E16": KindPAMFailure,        // PAM <*> more authentication failures; …
	"E17": KindPAMFailure,        // … user=root
	"E19": KindPAMFailure,        // pam_unix(sshd:auth): authentication failure; … rhost=<*>
	"E20": KindPAMFailure,        // … rhost=<*> user=<*>
	"E22": KindSessionClose,      // pam_unix(sshd:session): session closed for user <*>
	"E23": KindSessionOpen,       // pam_unix(sshd:session): session opened for user <*> by (uid=<*>)
	"E24": KindPreauthDisconnect, // Received disconnect from <*>: <*>: Bye Bye [preauth]
	"E25": KindPreauthDisconnect, // Received disconnect from <*>: <*>: Closed due to user request. [preauth]
}

var (
	fromIP     = regexp.MustCompile(`from ([0-9a-fA-F.:]+?)(?: port|$)`)
	repeatedRe = regexp.MustCompile(`^message repeated (\d+) times`)
)

// TestLoghubOpenSSH parses loghub's OpenSSH_2k.log and compares, line by
// line, our kind with the template loghub's structured file gives the
// line, and the failure count per source address with the one the
// templates imply.
func TestLoghubOpenSSH(t *testing.T) {
	logPath := sharedFile(t, "loghub-OpenSSH_2k.log")
	csvPath := sharedFile(t, "loghub-OpenSSH_2k.log_structured.csv")
	logData, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(logData), "\n"), "\n")
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows = rows[1:] // header
	if len(rows) != len(lines) {
		t.Fatalf("%d CSV rows for %d log lines", len(rows), len(lines))
	}
	wantPerIP, gotPerIP := map[string]int{}, map[string]int{}
	kinds := map[Kind]int{}
	for i, row := range rows {
		id, content := row[7], row[6]
		ev, ok := ParseLine(lines[i], ref)
		if ok {
			kinds[ev.Kind]++
		}
		want, listed := loghubKinds[id]
		switch {
		case !listed && ok:
			t.Errorf("line %d (%s): got %s, want no record\n\t%s", i+1, id, ev.Kind, lines[i])
			continue
		case !listed:
			continue
		case !ok:
			t.Errorf("line %d (%s): not parsed, want %s\n\t%s", i+1, id, want, lines[i])
			continue
		case ev.Kind != want:
			t.Errorf("line %d (%s): got %s, want %s\n\t%s", i+1, id, ev.Kind, want, lines[i])
		}
		if want.IsFailure() {
			n := 1
			if m := repeatedRe.FindStringSubmatch(content); m != nil {
				n, _ = strconv.Atoi(m[1])
			}
			if m := fromIP.FindStringSubmatch(content); m != nil {
				wantPerIP[m[1]] += n
			}
		}
		if ev.Kind.IsFailure() && ev.SourceIP.IsValid() {
			gotPerIP[ev.SourceIP.String()] += ev.Count
		}
	}
	if diff := cmp.Diff(wantPerIP, gotPerIP); diff != "" {
		t.Errorf("failures per address (-templates +parsed):\n%s", diff)
	}
	total := 0
	for _, n := range gotPerIP {
		total += n
	}
	t.Logf("loghub OpenSSH_2k: %d lines; per kind %v; %d failures from %d addresses", len(lines), kinds, total, len(gotPerIP))
}
