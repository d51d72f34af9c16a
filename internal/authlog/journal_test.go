package authlog

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseJournalJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Event
		ok      bool
		wantErr string
	}{
		{
			name: "string_message",
			in:   `{"__CURSOR":"c1","__REALTIME_TIMESTAMP":"1795899601123456","SYSLOG_IDENTIFIER":"sshd","_PID":"2101","_HOSTNAME":"web1","MESSAGE":"Failed password for root from 203.0.113.5 port 52144 ssh2"}`,
			want: Event{Time: time.UnixMicro(1795899601123456).UTC(), Host: "web1", Service: "sshd", PID: 2101, Kind: KindFailure, Method: "password", User: "root", SourceIP: ip("203.0.113.5"), Port: 52144, Count: 1, Source: "journal", Raw: "Failed password for root from 203.0.113.5 port 52144 ssh2", Cursor: "c1"},
			ok:   true,
		},
		{
			name: "byte_array_message_comm_only",
			// "Invalid user x\xff from 192.0.2.7": binary because of the
			// invalid UTF-8 byte; no SYSLOG_IDENTIFIER, _COMM is used.
			in:   `{"__REALTIME_TIMESTAMP":"1","_COMM":"sshd","MESSAGE":[73,110,118,97,108,105,100,32,117,115,101,114,32,120,255,32,102,114,111,109,32,49,57,50,46,48,46,50,46,55]}`,
			want: Event{Time: time.UnixMicro(1).UTC(), Service: "sshd", Kind: KindInvalidUser, User: "x\uFFFD", InvalidUser: true, SourceIP: ip("192.0.2.7"), Count: 1, Source: "journal", Raw: "Invalid user x\uFFFD from 192.0.2.7"},
			ok:   true,
		},
		{
			name: "repeated_field",
			in:   `{"__REALTIME_TIMESTAMP":"1","SYSLOG_IDENTIFIER":["x","su"],"MESSAGE":"Successful su for root by alice"}`,
			want: Event{Time: time.UnixMicro(1).UTC(), Service: "su", Kind: KindSuccess, User: "root", ByUser: "alice", Count: 1, Source: "journal", Raw: "Successful su for root by alice"},
			ok:   true,
		},
		{name: "other_program", in: `{"__REALTIME_TIMESTAMP":"1","SYSLOG_IDENTIFIER":"cron","MESSAGE":"Failed password for root from 1.2.3.4 port 1 ssh2"}`},
		{name: "sshd_noise", in: `{"__REALTIME_TIMESTAMP":"1","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"Server listening on 0.0.0.0 port 22."}`},
		{name: "bad_json", in: `{"MESSAGE":`, wantErr: "journal entry: unexpected end of JSON input"},
		{name: "no_message", in: `{"__REALTIME_TIMESTAMP":"1"}`, wantErr: "journal entry: MESSAGE: missing"},
		{name: "no_time", in: `{"MESSAGE":"x"}`, wantErr: "journal entry: __REALTIME_TIMESTAMP: missing"},
		{name: "bad_time", in: `{"MESSAGE":"x","__REALTIME_TIMESTAMP":"soon"}`, wantErr: `journal entry: __REALTIME_TIMESTAMP "soon" is not microseconds`},
		{name: "bad_byte", in: `{"MESSAGE":[300],"__REALTIME_TIMESTAMP":"1"}`, wantErr: "journal entry: MESSAGE: byte array value 300"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := ParseJournalJSON([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want prefix %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.ok, got)
			}
			if diff := eventDiff(tc.want, got); ok && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// fakeJournalctl writes a script that stands in for journalctl (journald
// does not run on the test machines): it records its arguments and prints
// the entries of the file $FAKE_JOURNAL that come after --after-cursor.
func fakeJournalctl(t *testing.T, dir string) string {
	t.Helper()
	sh := RequireSh(t)
	p := filepath.Join(dir, "journalctl")
	script := `#!` + sh + `
printf '%s\n' "$*" >> "$FAKE_JOURNAL.args"
after="" n=""
while [ $# -gt 0 ]; do
	case "$1" in --after-cursor) after="$2"; shift ;; -n) n="$2"; shift ;; esac
	shift
done
if [ -n "$n" ]; then tail -n "$n" "$FAKE_JOURNAL"; exit 0; fi
if [ -z "$after" ]; then cat "$FAKE_JOURNAL"; exit 0; fi
found=0
while IFS= read -r line; do
	if [ $found = 1 ]; then printf '%s\n' "$line"; fi
	case "$line" in *"\"__CURSOR\":\"$after\""*) found=1 ;; esac
done < "$FAKE_JOURNAL"
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// RequireSh returns /bin/sh, which every Linux test machine has.
func RequireSh(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh: %v", err)
	}
	return p
}

// recordedJournal copies the recorded entries into a fresh directory for
// fakeJournalctl to serve, and returns the directory, the copy's path and
// the entries.
func recordedJournal(t *testing.T) (dir, journal string, entries []byte) {
	t.Helper()
	dir = t.TempDir()
	journal = filepath.Join(dir, "journal.json")
	entries, err := os.ReadFile("testdata/journal.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(journal, entries, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_JOURNAL", journal)
	return dir, journal, entries
}

func TestJournalFollowerResumesAtCursor(t *testing.T) {
	if out, err := exec.Command("journalctl", "-n1", "-q").CombinedOutput(); err == nil && len(out) > 0 {
		t.Log("journald runs here, but this test uses recorded entries so it is repeatable")
	}
	dir, journal, first := recordedJournal(t)
	var bad []string
	fol := &JournalFollower{
		Command:    fakeJournalctl(t, dir),
		CursorFile: filepath.Join(dir, "cursor"),
		Since:      "-1h",
		Matches:    []string{"SYSLOG_FACILITY=4", "SYSLOG_FACILITY=10"},
		BatchSize:  2,
		Errorf:     func(f string, a ...any) { bad = append(bad, f) },
	}
	run := func() []string {
		var got []string
		err := fol.Run(context.Background(), func(evs []Event) error {
			for _, ev := range evs {
				got = append(got, string(ev.Kind)+" "+ev.User+" "+ev.Cursor)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := run()
	want := []string{"failure root s=a1;i=101;b=b1;m=1;t=5f1;x=1", "invalid_user adm\uFFFDin s=a1;i=103;b=b1;m=3;t=5f3;x=3", "success root s=a1;i=104;b=b1;m=4;t=5f4;x=4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("first run (-want +got):\n%s", diff)
	}
	// New entries arrive; the second run must resume after the cursor.
	more, err := os.ReadFile("testdata/journal-more.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(journal, append(first, more...), 0o644); err != nil {
		t.Fatal(err)
	}
	got = run()
	want = []string{"success deploy s=a1;i=105;b=b1;m=5;t=5f5;x=5", "failure root s=a1;i=106;b=b1;m=6;t=5f6;x=6"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("second run (-want +got):\n%s", diff)
	}
	if len(bad) != 1 {
		t.Errorf("bad entries reported: %q, want the one non-JSON line", bad)
	}
	args, err := os.ReadFile(journal + ".args")
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := "-o json --follow --no-pager --since -1h SYSLOG_FACILITY=4 SYSLOG_FACILITY=10\n" +
		"-o json --follow --no-pager --after-cursor s=a1;i=104;b=b1;m=4;t=5f4;x=4 SYSLOG_FACILITY=4 SYSLOG_FACILITY=10\n"
	if diff := cmp.Diff(wantArgs, string(args)); diff != "" {
		t.Errorf("journalctl arguments (-want +got):\n%s", diff)
	}
}

func TestJournalFollowerHandlerErrorKeepsCursor(t *testing.T) {
	dir, _, _ := recordedJournal(t)
	fol := &JournalFollower{Command: fakeJournalctl(t, dir), CursorFile: filepath.Join(dir, "cursor"), Since: "-1h", BatchSize: 1}
	boom := errors.New("store down")
	calls := 0
	err := fol.Run(context.Background(), func(evs []Event) error {
		calls++
		if calls == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the handler's error", err)
	}
	// Only the first batch (entry 101) was handled: the cursor stays there
	// so that entries 102-103 are delivered again.
	c, err := os.ReadFile(fol.CursorFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(c)); got != "s=a1;i=101;b=b1;m=1;t=5f1;x=1" {
		t.Errorf("cursor = %q, want entry 101's", got)
	}
}

// A first start (no cursor, no Since) follows only new entries, and saves
// where they begin before any is handled: stopped before the first batch,
// the next start resumes there instead of skipping, once more to the end,
// the entries logged meanwhile.
func TestJournalFollowerFirstStartKeepsItsEnd(t *testing.T) {
	dir, journal, first := recordedJournal(t)
	fol := &JournalFollower{Command: fakeJournalctl(t, dir), CursorFile: filepath.Join(dir, "cursor")}
	var got []string
	run := func() {
		t.Helper()
		err := fol.Run(context.Background(), func(evs []Event) error {
			for _, ev := range evs {
				got = append(got, ev.Cursor)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	run()
	if len(got) != 0 {
		t.Errorf("first start handed over old entries: %q", got)
	}
	c, err := os.ReadFile(fol.CursorFile)
	if err != nil || strings.TrimSpace(string(c)) != "s=a1;i=104;b=b1;m=4;t=5f4;x=4" {
		t.Fatalf("cursor after a first start with nothing handled = %q, %v; want the last entry's", c, err)
	}
	more, err := os.ReadFile("testdata/journal-more.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(journal, append(first, more...), 0o644); err != nil {
		t.Fatal(err)
	}
	run()
	if want := []string{"s=a1;i=105;b=b1;m=5;t=5f5;x=5", "s=a1;i=106;b=b1;m=6;t=5f6;x=6"}; !cmp.Equal(got, want) {
		t.Errorf("after the restart got %q, want %q", got, want)
	}
}
