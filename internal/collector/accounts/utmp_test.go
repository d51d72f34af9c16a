package accounts

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vigilsec/vigil/internal/inventory"
)

// utmpRecord encodes a glibc x86_64 struct utmp, as login(1) and sshd
// write it.
func utmpRecord(typ int16, pid int32, line, user, host string, t time.Time) []byte {
	b := make([]byte, UtmpSize)
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(typ))
	le.PutUint32(b[4:], uint32(pid))
	copy(b[8:40], line)
	copy(b[40:44], strings.TrimPrefix(line, "pts/"))
	copy(b[44:76], user)
	copy(b[76:332], host)
	le.PutUint32(b[336:], uint32(pid)) // ut_session
	le.PutUint32(b[340:], uint32(t.Unix()))
	le.PutUint32(b[344:], uint32(t.Nanosecond()/1000))
	return b
}

// lastlogRecord encodes a struct lastlog.
func lastlogRecord(t time.Time, line, host string) []byte {
	b := make([]byte, LastlogSize)
	if !t.IsZero() {
		binary.LittleEndian.PutUint32(b, uint32(t.Unix()))
	}
	copy(b[4:36], line)
	copy(b[36:], host)
	return b
}

func TestParseUtmpRecord(t *testing.T) {
	ts := time.Date(2024, 5, 1, 9, 30, 0, 123456000, time.UTC)
	tests := []struct {
		name    string
		in      []byte
		want    UtmpRecord
		wantErr string
	}{
		{
			name: "user_process",
			in:   utmpRecord(7, 4242, "pts/0", "alice", "203.0.113.7", ts),
			want: UtmpRecord{Type: 7, PID: 4242, Line: "pts/0", User: "alice", Host: "203.0.113.7", Time: ts},
		},
		{
			name: "boot_time",
			in:   utmpRecord(2, 0, "~", "reboot", "6.1.0-18-amd64", ts.Truncate(time.Second)),
			want: UtmpRecord{Type: 2, Line: "~", User: "reboot", Host: "6.1.0-18-amd64", Time: ts.Truncate(time.Second)},
		},
		{
			name: "full_width_fields",
			in:   utmpRecord(7, 1, strings.Repeat("l", 40), strings.Repeat("u", 40), strings.Repeat("h", 300), ts),
			want: UtmpRecord{Type: 7, PID: 1, Line: strings.Repeat("l", 32), User: strings.Repeat("u", 32), Host: strings.Repeat("h", 256), Time: ts},
		},
		{name: "bad_type", in: utmpRecord(300, 1, "", "", "", ts), wantErr: "invalid ut_type 300"},
		{name: "short", in: make([]byte, 100), wantErr: "record is 100 bytes, want 384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseUtmpRecord(tt.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Fatalf("error = %q, want %q", gotErr, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadWtmp(t *testing.T) {
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	buf.Write(utmpRecord(2, 0, "~", "reboot", "6.1.0", base))
	for i := range 60 {
		user := "alice"
		if i%3 == 0 {
			user = "bob"
		}
		at := base.Add(time.Duration(i) * time.Hour)
		buf.Write(utmpRecord(7, int32(1000+i), fmt.Sprintf("pts/%d", i), user, "198.51.100.1", at))
		buf.Write(utmpRecord(8, int32(1000+i), fmt.Sprintf("pts/%d", i), "", "", at.Add(time.Minute)))
	}
	buf.Write(utmpRecord(99, 0, "", "junk", "", base))                                     // record 122
	buf.Write(utmpRecord(7, 1, "tty1", "carol", "", base.Add(-24*time.Hour)))              // older, later in file
	buf.Write(utmpRecord(7, 2, "pts/9", "mallory", "192.0.2.66", base.Add(100*time.Hour))) // not a passwd user
	buf.Write(utmpRecord(7, 3, "pts/1", "alice", "", base)[:200])                          // truncated

	want := func(n string) bool { return n != "mallory" }
	var bad []string
	res, err := readWtmp(&buf, 50, want, func(rec int, err error) { bad = append(bad, fmt.Sprintf("record %d: %v", rec, err)) })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"record 122: invalid ut_type 99", "record 125: truncated record (200 of 384 bytes)"}, bad); diff != "" {
		t.Errorf("bad records (-want +got):\n%s", diff)
	}
	logins := newestFirst(res.recent)
	if len(logins) != 50 {
		t.Fatalf("got %d logins, want 50", len(logins))
	}
	wantFirst := []inventory.Login{
		{User: "mallory", TTY: "pts/9", Host: "192.0.2.66", Time: base.Add(100 * time.Hour), Source: "wtmp"},
		{User: "alice", TTY: "pts/59", Host: "198.51.100.1", Time: base.Add(59 * time.Hour), Source: "wtmp"},
		{User: "alice", TTY: "pts/58", Host: "198.51.100.1", Time: base.Add(58 * time.Hour), Source: "wtmp"},
		{User: "bob", TTY: "pts/57", Host: "198.51.100.1", Time: base.Add(57 * time.Hour), Source: "wtmp"},
	}
	if diff := cmp.Diff(wantFirst, logins[:4]); diff != "" {
		t.Errorf("newest logins (-want +got):\n%s", diff)
	}
	if last := logins[49]; last.User != "carol" || !last.Time.Equal(base.Add(-24*time.Hour)) {
		t.Errorf("oldest kept login = %+v, want carol's", last)
	}
	if got := logins[48].TTY; got != "pts/12" {
		t.Errorf("second oldest kept login tty = %q, want pts/12 (the 50 most recent records)", got)
	}
	wantLast := map[string]inventory.Login{
		"alice": {User: "alice", TTY: "pts/59", Host: "198.51.100.1", Time: base.Add(59 * time.Hour), Source: "wtmp"},
		"bob":   {User: "bob", TTY: "pts/57", Host: "198.51.100.1", Time: base.Add(57 * time.Hour), Source: "wtmp"},
		"carol": {User: "carol", TTY: "tty1", Time: base.Add(-24 * time.Hour), Source: "wtmp"},
	}
	if diff := cmp.Diff(wantLast, res.last); diff != "" {
		t.Errorf("last login per user (-want +got):\n%s", diff)
	}
}

func TestLastlogAt(t *testing.T) {
	ts := time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC)
	file := make([]byte, 1001*LastlogSize)
	copy(file[0:], lastlogRecord(ts, "pts/0", "192.0.2.1"))
	copy(file[1000*LastlogSize:], lastlogRecord(ts.Add(time.Hour), "tty1", ""))
	tests := []struct {
		name string
		uid  int
		want *inventory.Login
	}{
		{"root", 0, &inventory.Login{TTY: "pts/0", Host: "192.0.2.1", Time: ts}},
		{"never_logged_in", 5, nil},
		{"last_record", 1000, &inventory.Login{TTY: "tty1", Time: ts.Add(time.Hour)}},
		{"past_end", 65534, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, line, host, ok, err := lastlogAt(bytes.NewReader(file), tt.uid)
			if err != nil {
				t.Fatal(err)
			}
			var got *inventory.Login
			if ok {
				got = &inventory.Login{TTY: line, Host: host, Time: ts}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lastlog (-want +got):\n%s", diff)
			}
		})
	}
}
