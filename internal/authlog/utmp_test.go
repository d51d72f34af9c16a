package authlog

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/collector/accounts"
)

// utmpRec encodes a glibc x86_64 struct utmp as login, sshd and lastb
// write it; addr is ut_addr_v6 (invalid: all zero).
func utmpRec(typ int16, pid int32, line, user, host string, t time.Time, addr netip.Addr) []byte {
	b := make([]byte, accounts.UtmpSize)
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(typ))
	le.PutUint32(b[4:], uint32(pid))
	copy(b[8:40], line)
	copy(b[44:76], user)
	copy(b[76:332], host)
	le.PutUint32(b[340:], uint32(t.Unix()))
	le.PutUint32(b[344:], uint32(t.Nanosecond()/1000))
	if addr.Is4() {
		a := addr.As4()
		copy(b[348:], a[:])
	} else if addr.IsValid() {
		a := addr.As16()
		copy(b[348:], a[:])
	}
	return b
}

func TestReadUtmp(t *testing.T) {
	ts := time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)
	var btmp bytes.Buffer
	btmp.Write(utmpRec(6, 100, "ssh:notty", "root", "203.0.113.9", ts, ip("203.0.113.9")))
	btmp.Write(utmpRec(6, 101, "ssh:notty", "oracle", "2001:db8::9", ts.Add(time.Second), ip("2001:db8::9")))
	btmp.Write(utmpRec(6, 102, "tty1", "admin", "", ts.Add(2*time.Second), netip.Addr{}))
	btmp.Write(utmpRec(6, 103, "ssh:notty", "bob", "scanner.example.net", ts.Add(3*time.Second), netip.Addr{}))
	bad := utmpRec(6, 104, "x", "y", "", ts, netip.Addr{})
	bad[0] = 99 // invalid ut_type
	btmp.Write(bad)
	btmp.Write(utmpRec(6, 105, "ssh:notty", "last", "192.0.2.1", ts, netip.Addr{}))
	btmp.Write([]byte("partial"))

	evs, err := ReadUtmp(&btmp, "/var/log/btmp", true)
	if err == nil || !strings.Contains(err.Error(), "record 5: invalid ut_type 99") || !strings.Contains(err.Error(), "record 7: truncated (7 of 384 bytes)") {
		t.Errorf("err = %v, want record 5 and 7 reported", err)
	}
	want := []Event{
		{Time: ts, Service: "btmp", PID: 100, Kind: KindFailure, User: "root", TTY: "ssh:notty", SourceIP: ip("203.0.113.9"), Count: 1, Source: "/var/log/btmp"},
		{Time: ts.Add(time.Second), Service: "btmp", PID: 101, Kind: KindFailure, User: "oracle", TTY: "ssh:notty", SourceIP: ip("2001:db8::9"), Count: 1, Source: "/var/log/btmp"},
		{Time: ts.Add(2 * time.Second), Service: "btmp", PID: 102, Kind: KindFailure, User: "admin", TTY: "tty1", Count: 1, Source: "/var/log/btmp"},
		{Time: ts.Add(3 * time.Second), Service: "btmp", PID: 103, Kind: KindFailure, User: "bob", TTY: "ssh:notty", RemoteHost: "scanner.example.net", Count: 1, Source: "/var/log/btmp"},
		{Time: ts, Service: "btmp", PID: 105, Kind: KindFailure, User: "last", TTY: "ssh:notty", SourceIP: ip("192.0.2.1"), Count: 1, Source: "/var/log/btmp"},
	}
	if diff := eventDiff(want, evs); diff != "" {
		t.Errorf("btmp (-want +got):\n%s", diff)
	}

	var wtmp bytes.Buffer
	wtmp.Write(utmpRec(2, 0, "~", "reboot", "6.1.0-28-amd64", ts, netip.Addr{}))          // boot
	wtmp.Write(utmpRec(7, 200, "pts/0", "alice", "198.51.100.4", ts, ip("198.51.100.4"))) // ssh login
	wtmp.Write(utmpRec(7, 201, "tty1", "root", "", ts, netip.Addr{}))                     // console: no host
	wtmp.Write(utmpRec(8, 200, "pts/0", "", "", ts, netip.Addr{}))                        // logout
	evs, err = ReadUtmp(&wtmp, "wtmp", false)
	if err != nil {
		t.Fatal(err)
	}
	want = []Event{{Time: ts, Service: "wtmp", PID: 200, Kind: KindSuccess, User: "alice", TTY: "pts/0", SourceIP: ip("198.51.100.4"), Count: 1, Source: "wtmp"}}
	if diff := eventDiff(want, evs); diff != "" {
		t.Errorf("wtmp (-want +got):\n%s", diff)
	}
}

func TestReadUtmpAtFollowsGrowth(t *testing.T) {
	ts := time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)
	p := filepath.Join(t.TempDir(), "btmp")
	r1 := utmpRec(6, 1, "ssh:notty", "a", "192.0.2.1", ts, ip("192.0.2.1"))
	r2 := utmpRec(6, 2, "ssh:notty", "b", "192.0.2.2", ts, ip("192.0.2.2"))
	r3 := utmpRec(6, 3, "ssh:notty", "c", "192.0.2.3", ts, ip("192.0.2.3"))
	// Two records and the first half of a third, as a writer mid-write.
	if err := os.WriteFile(p, append(append(append([]byte{}, r1...), r2...), r3[:100]...), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, next, err := ReadUtmpAt(f, 0, p, true)
	if err != nil || len(evs) != 2 || next != 2*accounts.UtmpSize {
		t.Fatalf("first read: %d events, next %d, err %v; want 2, %d, nil", len(evs), next, err, 2*accounts.UtmpSize)
	}
	w, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(r3[100:]); err != nil {
		t.Fatal(err)
	}
	w.Close()
	evs, next, err = ReadUtmpAt(f, next, p, true)
	if err != nil || len(evs) != 1 || evs[0].User != "c" || next != 3*accounts.UtmpSize {
		t.Fatalf("second read: %+v, next %d, err %v", evs, next, err)
	}
	if _, _, err := ReadUtmpAt(f, 10, p, true); err == nil {
		t.Error("misaligned offset accepted")
	}
}
