package authlog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/vigilsec/vigil/internal/collector/accounts"
)

// utmp(5) record types we read.
const (
	utLoginProcess = 6
	utUserProcess  = 7
)

// maxUtmpErrors caps the per-record errors ReadUtmp reports.
const maxUtmpErrors = 10

// ReadUtmp reads wtmp or btmp records from r. With failed set (btmp) every
// record naming a user is a failed login (KindFailure, Service "btmp");
// otherwise (wtmp) USER_PROCESS records with a remote host are successful
// logins (KindSuccess, Service "wtmp"). source is the file name put in
// Event.Source. Undecodable records are skipped and reported in the error
// (with their record number, from 1) after every good record was read; a
// truncated last record is an error too.
func ReadUtmp(r io.Reader, source string, failed bool) ([]Event, error) {
	br := bufio.NewReaderSize(r, 64*accounts.UtmpSize)
	var (
		evs  []Event
		errs []error
		buf  [accounts.UtmpSize]byte
	)
	for n := 1; ; n++ {
		got, err := io.ReadFull(br, buf[:])
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			errs = append(errs, fmt.Errorf("record %d: truncated (%d of %d bytes)", n, got, accounts.UtmpSize))
			break
		}
		if err != nil {
			return evs, fmt.Errorf("read %s: %w", source, err)
		}
		ev, ok, err := utmpEvent(buf[:], source, failed)
		if err != nil {
			if len(errs) < maxUtmpErrors {
				errs = append(errs, fmt.Errorf("record %d: %w", n, err))
			}
			continue
		}
		if ok {
			evs = append(evs, ev)
		}
	}
	if len(errs) > 0 {
		return evs, fmt.Errorf("%s: %w", source, errors.Join(errs...))
	}
	return evs, nil
}

// ReadUtmpAt reads the complete records of r from offset off (a multiple
// of the record size) to the end, for following a growing wtmp or btmp:
// next is the offset after the last complete record, where the following
// call starts. A record still being written is left for that call. Bad
// records are skipped and reported in err together with the events read.
func ReadUtmpAt(r io.ReaderAt, off int64, source string, failed bool) (evs []Event, next int64, err error) {
	if off < 0 || off%accounts.UtmpSize != 0 {
		return nil, off, fmt.Errorf("%s: offset %d is not a record boundary", source, off)
	}
	var errs []error
	buf := make([]byte, 64*accounts.UtmpSize)
	for {
		n, rerr := r.ReadAt(buf, off)
		n -= n % accounts.UtmpSize
		for i := 0; i < n; i += accounts.UtmpSize {
			ev, ok, perr := utmpEvent(buf[i:i+accounts.UtmpSize], source, failed)
			if perr != nil {
				if len(errs) < maxUtmpErrors {
					errs = append(errs, fmt.Errorf("record at %d: %w", off+int64(i), perr))
				}
				continue
			}
			if ok {
				evs = append(evs, ev)
			}
		}
		off += int64(n)
		if rerr != nil || n == 0 {
			if rerr != nil && !errors.Is(rerr, io.EOF) {
				errs = append(errs, rerr)
			}
			break
		}
	}
	if len(errs) > 0 {
		return evs, off, fmt.Errorf("%s: %w", source, errors.Join(errs...))
	}
	return evs, off, nil
}

// utmpEvent turns one record into an Event. ok is false for records that
// are not logins.
func utmpEvent(b []byte, source string, failed bool) (Event, bool, error) {
	rec, err := accounts.ParseUtmpRecord(b)
	if err != nil {
		return Event{}, false, err
	}
	if rec.User == "" {
		return Event{}, false, nil
	}
	ev := Event{
		Time:   rec.Time,
		PID:    int(rec.PID),
		User:   rec.User,
		TTY:    rec.Line,
		Count:  1,
		Source: source,
	}
	if failed {
		if rec.Type != utLoginProcess && rec.Type != utUserProcess {
			return Event{}, false, nil
		}
		ev.Kind, ev.Service = KindFailure, "btmp"
	} else {
		if rec.Type != utUserProcess || rec.Host == "" {
			return Event{}, false, nil
		}
		ev.Kind, ev.Service = KindSuccess, "wtmp"
	}
	ev.SourceIP = utmpAddr(b[348:364])
	if !ev.SourceIP.IsValid() && rec.Host != "" {
		// ut_host is "name" or "address" (sometimes ":0" or "name:display").
		if a, h, ok := parseRemote(rec.Host); ok {
			ev.SourceIP, ev.RemoteHost = a, h
		} else {
			ev.RemoteHost = rec.Host
		}
	} else if rec.Host != "" {
		if _, err := netip.ParseAddr(strings.TrimSpace(rec.Host)); err != nil {
			ev.RemoteHost = rec.Host
		}
	}
	return ev, true, nil
}

// utmpAddr decodes ut_addr_v6: an IPv4 address in the first word (network
// byte order) with the rest zero, or a full IPv6 address. All zero: none.
func utmpAddr(b []byte) netip.Addr {
	zeroTail := true
	for _, c := range b[4:] {
		if c != 0 {
			zeroTail = false
			break
		}
	}
	if zeroTail {
		if b[0]|b[1]|b[2]|b[3] == 0 {
			return netip.Addr{}
		}
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16([16]byte(b)).Unmap()
}
