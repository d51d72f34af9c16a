package authlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// journalEntry is the part of a `journalctl -o json` entry we read. Field
// values are strings, arrays of byte values (binary data) or arrays of
// those (a field given more than once).
type journalEntry struct {
	Message    json.RawMessage `json:"MESSAGE"`
	Hostname   json.RawMessage `json:"_HOSTNAME"`
	Realtime   json.RawMessage `json:"__REALTIME_TIMESTAMP"`
	Identifier json.RawMessage `json:"SYSLOG_IDENTIFIER"`
	Comm       json.RawMessage `json:"_COMM"`
	PID        json.RawMessage `json:"_PID"`
	SyslogPID  json.RawMessage `json:"SYSLOG_PID"`
	Cursor     json.RawMessage `json:"__CURSOR"`
}

// ParseJournalJSON parses one line of `journalctl -o json` output. ok is
// false for entries that are not authentication records; err is set when
// the line is not a journal entry at all (bad JSON, no MESSAGE or
// timestamp).
func ParseJournalJSON(line []byte) (Event, bool, error) {
	var e journalEntry
	if err := json.Unmarshal(line, &e); err != nil {
		return Event{}, false, fmt.Errorf("journal entry: %w", err)
	}
	return parseJournalEntry(&e)
}

func parseJournalEntry(e *journalEntry) (Event, bool, error) {
	msg, err := journalField(e.Message)
	if err != nil || len(e.Message) == 0 {
		return Event{}, false, fmt.Errorf("journal entry: MESSAGE: %v", orMissing(err))
	}
	rt, err := journalField(e.Realtime)
	if err != nil || rt == "" {
		return Event{}, false, fmt.Errorf("journal entry: __REALTIME_TIMESTAMP: %v", orMissing(err))
	}
	us, err := strconv.ParseInt(rt, 10, 64)
	if err != nil || us < 0 {
		return Event{}, false, fmt.Errorf("journal entry: __REALTIME_TIMESTAMP %q is not microseconds", rt)
	}
	ident, _ := journalField(e.Identifier)
	if ident == "" {
		ident, _ = journalField(e.Comm)
	}
	prog, _, ok := progName(ident)
	if !ok {
		return Event{}, false, nil
	}
	host, _ := journalField(e.Hostname)
	pidText, _ := journalField(e.PID)
	if pidText == "" {
		pidText, _ = journalField(e.SyslogPID)
	}
	cursor, _ := journalField(e.Cursor)
	ev := Event{
		Time:   time.UnixMicro(us).UTC(),
		Host:   host,
		PID:    atoi(pidText),
		Count:  1,
		Source: "journal",
		Raw:    msg,
		Cursor: cursor,
	}
	if !parseMessage(&ev, prog, msg) {
		return Event{}, false, nil
	}
	return ev, true, nil
}

func orMissing(err error) error {
	if err == nil {
		return errors.New("missing")
	}
	return err
}

// journalField decodes one journal JSON value: a string, null, an array of
// byte values, or an array of values (the last one is used).
func journalField(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '[':
		var vals []json.RawMessage
		if err := json.Unmarshal(raw, &vals); err != nil {
			return "", err
		}
		if len(vals) == 0 {
			return "", nil
		}
		if vals[0][0] == '"' || vals[0][0] == '[' { // repeated field
			return journalField(vals[len(vals)-1])
		}
		b := make([]byte, len(vals))
		for i, v := range vals {
			n, err := strconv.ParseUint(string(v), 10, 8)
			if err != nil {
				return "", fmt.Errorf("byte array value %s: %w", v, err)
			}
			b[i] = byte(n)
		}
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	}
	return "", fmt.Errorf("unexpected value %.20s", raw)
}

// JournalFollower runs `journalctl -o json --follow` and hands the
// authentication events to a callback, keeping the journal cursor in a
// state file so that a restart resumes after the last handled entry.
type JournalFollower struct {
	// Command is the journalctl binary; "journalctl" (found on PATH) when
	// empty.
	Command string
	// CursorFile is where the cursor of the last handled entry is kept
	// (written atomically after each handled batch). Empty: not kept.
	CursorFile string
	// Since is passed as --since on a first start (no saved cursor), for
	// example "-1h" or "2026-11-27 00:00:00". Empty: only new entries.
	Since string
	// Matches are journalctl match arguments, for example "_COMM=sshd",
	// "+", "SYSLOG_FACILITY=4", "SYSLOG_FACILITY=10". Empty: everything,
	// filtered here by program name.
	Matches []string
	// BatchSize caps the entries handed over in one call; 256 when 0.
	BatchSize int
	// Errorf, when set, is told about entries that could not be parsed;
	// they are skipped.
	Errorf func(format string, args ...any)
}

// Args returns the journalctl arguments for the given saved cursor.
func (f *JournalFollower) Args(cursor string) []string {
	args := []string{"-o", "json", "--follow", "--no-pager"}
	switch {
	case cursor != "":
		args = append(args, "--after-cursor", cursor)
	case f.Since != "":
		args = append(args, "--since", f.Since)
	default:
		args = append(args, "--lines", "0")
	}
	return append(args, f.Matches...)
}

// Run follows the journal until ctx ends or journalctl exits. handle gets
// each batch of events; when it returns nil the cursor of the batch's last
// entry (authentication record or not) is saved, so entries are delivered
// at least once. An error from handle stops Run without saving the cursor.
func (f *JournalFollower) Run(ctx context.Context, handle func([]Event) error) error {
	cursor := ""
	if f.CursorFile != "" {
		b, err := os.ReadFile(f.CursorFile)
		switch {
		case err == nil:
			cursor = strings.TrimSpace(string(b))
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("read journal cursor: %w", err)
		}
	}
	name := f.Command
	if name == "" {
		name = "journalctl"
	}
	if cursor == "" && f.Since == "" && f.CursorFile != "" {
		// A first start follows only new entries. Where they begin is
		// saved now, not with the first handled batch: a stop before that
		// would otherwise make the next start skip, once more to the end,
		// whatever was logged meanwhile.
		c, err := lastCursor(ctx, name)
		if err != nil && f.Errorf != nil {
			// Following from the end still works; only this guarantee is lost.
			f.Errorf("journal: %v", err)
		}
		if c != "" {
			if err := WriteFileAtomic(f.CursorFile, []byte(c+"\n")); err != nil {
				return fmt.Errorf("save journal cursor: %w", err)
			}
			cursor = c
		}
	}
	cmd := exec.CommandContext(ctx, name, f.Args(cursor)...)
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	runErr := f.read(out, handle)
	if runErr != nil {
		_ = cmd.Process.Kill()
		_, _ = io.Copy(io.Discard, out)
	}
	waitErr := cmd.Wait()
	switch {
	case runErr != nil:
		return runErr
	case ctx.Err() != nil:
		return ctx.Err()
	case waitErr != nil:
		return fmt.Errorf("%s: %w: %s", name, waitErr, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// lastCursor returns the cursor of the journal's last entry, or "" when
// the journal is empty.
func lastCursor(ctx context.Context, name string) (string, error) {
	out, err := exec.CommandContext(ctx, name, "-n", "1", "-o", "json", "--no-pager").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return "", fmt.Errorf("find the journal's end: %s: %w", name, err)
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var e journalEntry
	if len(lines[len(lines)-1]) == 0 || json.Unmarshal(lines[len(lines)-1], &e) != nil {
		return "", nil // no entries ("-- No entries --" is not JSON)
	}
	c, _ := journalField(e.Cursor)
	return c, nil
}

// read consumes journalctl's output.
func (f *JournalFollower) read(r io.Reader, handle func([]Event) error) error {
	size := f.BatchSize
	if size <= 0 {
		size = 256
	}
	br := bufio.NewReaderSize(r, 256<<10)
	var batch []Event
	last, seen := "", 0
	flush := func() error {
		if seen == 0 {
			return nil
		}
		if len(batch) > 0 {
			if err := handle(batch); err != nil {
				return err
			}
		}
		if f.CursorFile != "" && last != "" {
			if err := WriteFileAtomic(f.CursorFile, []byte(last+"\n")); err != nil {
				return fmt.Errorf("save journal cursor: %w", err)
			}
		}
		batch, seen = batch[:0], 0
		return nil
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			seen++
			var e journalEntry
			ev, ok, perr := Event{}, false, json.Unmarshal(line, &e)
			if perr == nil {
				if c, _ := journalField(e.Cursor); c != "" {
					last = c
				}
				ev, ok, perr = parseJournalEntry(&e)
			} else {
				perr = fmt.Errorf("journal entry: %w", perr)
			}
			switch {
			case perr != nil:
				if f.Errorf != nil {
					f.Errorf("journal: %v", perr)
				}
			case ok:
				batch = append(batch, ev)
			}
			// Hand over when the batch is full or journalctl has nothing
			// more buffered (it is waiting for new entries).
			if len(batch) >= size || br.Buffered() == 0 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return ferr
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
