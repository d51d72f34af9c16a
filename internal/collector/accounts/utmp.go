package accounts

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
)

// UtmpSize is the size of struct utmp on x86_64 (and other 64-bit)
// glibc: ut_type int16, pad, ut_pid int32, ut_line[32], ut_id[4],
// ut_user[32], ut_host[256], ut_exit (2 x int16), ut_session int32,
// ut_tv (2 x int32), ut_addr_v6[4] int32, 20 reserved bytes.
const UtmpSize = 384

// utmp(5) record types.
const (
	utEmpty       = 0
	utUserProcess = 7
	utAccounting  = 9
)

// UtmpRecord is one decoded utmp/wtmp record.
type UtmpRecord struct {
	Type int16
	PID  int32
	Line string
	User string
	Host string
	Time time.Time
}

// ParseUtmpRecord decodes one UtmpSize-byte record.
func ParseUtmpRecord(b []byte) (UtmpRecord, error) {
	var r UtmpRecord
	if len(b) != UtmpSize {
		return r, fmt.Errorf("record is %d bytes, want %d", len(b), UtmpSize)
	}
	le := binary.LittleEndian
	r.Type = int16(le.Uint16(b[0:]))
	if r.Type < utEmpty || r.Type > utAccounting {
		return r, fmt.Errorf("invalid ut_type %d", r.Type)
	}
	r.PID = int32(le.Uint32(b[4:]))
	r.Line = cString(b[8:40])
	r.User = cString(b[44:76])
	r.Host = cString(b[76:332])
	sec, usec := int32(le.Uint32(b[340:])), int32(le.Uint32(b[344:]))
	if usec < 0 || usec >= 1e6 {
		usec = 0
	}
	r.Time = time.Unix(int64(sec), int64(usec)*1000).UTC()
	return r, nil
}

// cString returns the NUL-terminated string in b, made valid UTF-8.
func cString(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// wtmpResult is what one pass over wtmp yields.
type wtmpResult struct {
	// recent holds the last logins in file order (oldest first).
	recent []inventory.Login
	// last is the newest login of each user that want accepted.
	last map[string]inventory.Login
}

// readWtmp streams wtmp records, keeping the keep most recent
// USER_PROCESS logins and the newest login of each user accepted by want.
// Undecodable and truncated records are reported through bad, with their
// record number (from 1).
func readWtmp(r io.Reader, keep int, want func(string) bool, bad func(rec int, err error)) (*wtmpResult, error) {
	res := &wtmpResult{last: map[string]inventory.Login{}}
	ring := make([]inventory.Login, 0, keep)
	next := 0 // ring index of the oldest entry once the ring is full
	br := bufio.NewReaderSize(r, 64*UtmpSize)
	var buf [UtmpSize]byte
	for n := 1; ; n++ {
		got, err := io.ReadFull(br, buf[:])
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			bad(n, fmt.Errorf("truncated record (%d of %d bytes)", got, UtmpSize))
			break
		}
		if err != nil {
			return res, err
		}
		rec, err := ParseUtmpRecord(buf[:])
		if err != nil {
			bad(n, err)
			continue
		}
		if rec.Type != utUserProcess || rec.User == "" {
			continue
		}
		l := inventory.Login{User: rec.User, TTY: rec.Line, Host: rec.Host, Time: rec.Time, Source: "wtmp"}
		if want(rec.User) {
			if prev, ok := res.last[rec.User]; !ok || !l.Time.Before(prev.Time) {
				res.last[rec.User] = l
			}
		}
		if keep == 0 {
			continue
		}
		if len(ring) < keep {
			ring = append(ring, l)
			continue
		}
		ring[next] = l
		next = (next + 1) % keep
	}
	res.recent = append(ring[next:], ring[:next]...)
	return res, nil
}

// newestFirst orders logins by time, newest first; records with equal
// times keep the later one in the file first.
func newestFirst(logins []inventory.Login) []inventory.Login {
	slices.Reverse(logins)
	slices.SortStableFunc(logins, func(a, b inventory.Login) int { return b.Time.Compare(a.Time) })
	return logins
}

// LastlogSize is the size of struct lastlog on Linux: ll_time int32,
// ll_line[32], ll_host[256].
const LastlogSize = 292

// ParseLastlogRecord decodes one LastlogSize-byte record. ok is false for
// users who never logged in (ll_time 0).
func ParseLastlogRecord(b []byte) (t time.Time, line, host string, ok bool) {
	if len(b) != LastlogSize {
		return t, "", "", false
	}
	sec := int32(binary.LittleEndian.Uint32(b))
	if sec == 0 {
		return t, "", "", false
	}
	return time.Unix(int64(sec), 0).UTC(), cString(b[4:36]), cString(b[36:292]), true
}

// lastlogAt reads the lastlog record of uid. The file is sparse and
// indexed by uid, so only that record is read.
func lastlogAt(r io.ReaderAt, uid int) (time.Time, string, string, bool, error) {
	var buf [LastlogSize]byte
	_, err := r.ReadAt(buf[:], int64(uid)*LastlogSize)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return time.Time{}, "", "", false, nil // past the end: never logged in
	}
	if err != nil {
		return time.Time{}, "", "", false, err
	}
	t, line, host, ok := ParseLastlogRecord(buf[:])
	return t, line, host, ok, nil
}
