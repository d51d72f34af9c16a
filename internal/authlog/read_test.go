package authlog

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

// TestReadSyslog checks ReadSyslog gives the records ParseLine accepts,
// in file order, skipping other lines.
func TestReadSyslog(t *testing.T) {
	in := "Mar  1 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\r\n" +
		"Mar  1 10:00:01 h cron[2]: (root) CMD (true)\n" +
		"\n" +
		"Mar  1 10:00:02 h sshd[3]: Accepted publickey for bob from 192.0.2.2 port 22 ssh2"
	ref := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var got []Event
	err := ReadSyslog(bufio.NewReader(strings.NewReader(in)), ref, func(ev *Event) { got = append(got, *ev) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].PID != 1 || got[0].Kind != KindFailure || got[1].PID != 3 || got[1].User != "bob" {
		t.Fatalf("got %+v", got)
	}
}
