package authlog

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"time"
)

// EachLine calls fn with each line of r, without its line ending. Lines
// longer than r's buffer are skipped whole. fn must not keep line: it is
// r's buffer.
func EachLine(r *bufio.Reader, fn func(line []byte)) error {
	var long bool
	for {
		line, err := r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			long = true
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return err
		}
		if !long && len(line) > 0 {
			fn(bytes.TrimRight(line, "\r\n"))
		}
		long = false
		if err != nil {
			return nil
		}
	}
}

// ReadSyslog reads the authentication records of a syslog file (auth.log,
// secure, a journalctl text export) and calls fn with each, in file
// order: every line ParseLine accepts, with ref anchoring stamps that have
// no year. Lines longer than r's buffer are skipped whole. fn must not
// keep ev, which is reused.
func ReadSyslog(r *bufio.Reader, ref time.Time, fn func(ev *Event)) error {
	var ev Event // one for the file: fn's argument escapes
	return EachLine(r, func(line []byte) {
		var ok bool
		if ev, ok = ParseLine(string(line), ref); ok {
			fn(&ev)
		}
	})
}
