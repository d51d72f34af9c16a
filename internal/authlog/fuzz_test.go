package authlog

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func FuzzParseLine(f *testing.F) {
	data, err := os.ReadFile("testdata/auth.log")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f.Add(l)
	}
	f.Add("<38>1 2026-11-27T17:40:17.954167-04:00 h sshd 1 - [a b=\"]\"] Failed password for x from ::1 port 1 ssh2")
	f.Add("Feb 29 00:00:00 h sshd[1]: message repeated 3 times: [ Invalid user  from 1.2.3.4]")
	f.Fuzz(func(t *testing.T, line string) {
		ev, ok := ParseLine(line, ref)
		if !ok {
			return
		}
		if ev.Kind == "" || ev.Service == "" || ev.Count < 1 {
			t.Fatalf("incomplete event %+v", ev)
		}
		if ev.Raw != strings.TrimRight(line, "\r\n") {
			t.Fatalf("Raw %q is not the line", ev.Raw)
		}
		if ev.SourceIP.IsValid() && ev.RemoteHost != "" && ev.Service != "login" {
			t.Fatalf("both address %v and host name %q", ev.SourceIP, ev.RemoteHost)
		}
		if ev.SourceIP.Is4In6() {
			t.Fatalf("mapped address %v not unmapped", ev.SourceIP)
		}
	})
}

func FuzzParseJournalJSON(f *testing.F) {
	for _, p := range []string{"testdata/journal.json", "testdata/journal-more.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			f.Add(l)
		}
	}
	f.Add([]byte(`{"MESSAGE":[[1],"x"],"__REALTIME_TIMESTAMP":["1"],"_COMM":"su"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, ok, err := ParseJournalJSON(line)
		if err != nil && ok {
			t.Fatal("ok with an error")
		}
		if ok && (ev.Kind == "" || ev.Source != "journal" || ev.Count < 1) {
			t.Fatalf("incomplete event %+v", ev)
		}
	})
}

func FuzzReadUtmp(f *testing.F) {
	ts := time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)
	f.Add(utmpRec(6, 1, "ssh:notty", "root", "192.0.2.1", ts, ip("192.0.2.1")), true)
	f.Add(append(utmpRec(7, 1, "pts/0", "a", "h", ts, ip("2001:db8::1")), 1, 2, 3), false)
	f.Fuzz(func(t *testing.T, data []byte, failed bool) {
		evs, _ := ReadUtmp(bytes.NewReader(data), "f", failed)
		if len(evs) > len(data)/384 {
			t.Fatalf("%d events from %d bytes", len(evs), len(data))
		}
		evs2, next, _ := ReadUtmpAt(bytes.NewReader(data), 0, "f", failed)
		if len(evs2) != len(evs) || next != int64(len(data)/384*384) {
			t.Fatalf("ReadUtmpAt: %d events, next %d; ReadUtmp %d events", len(evs2), next, len(evs))
		}
	})
}

func FuzzDecodePosition(f *testing.F) {
	f.Add([]byte(`{"path":"/var/log/auth.log","dev":2049,"ino":131,"offset":4096,"fp_len":256,"fp":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}`))
	f.Add([]byte(`{"offset":1}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePosition(data)
		if err != nil {
			return
		}
		if p.Offset < 0 || p.FPLen < 0 || p.FPLen > fingerprintSize {
			t.Fatalf("accepted %+v", p)
		}
		dir := t.TempDir()
		if err := SavePosition(dir+"/s", p); err != nil {
			t.Fatal(err)
		}
		q, err := LoadPosition(dir + "/s")
		if err != nil || q != p {
			t.Fatalf("round trip: %+v, %v; want %+v", q, err, p)
		}
	})
}
