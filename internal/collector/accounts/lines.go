package accounts

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxLine bounds one line of a text source. Longer lines are reported as
// errors and skipped, so one hostile file cannot grow memory without bound.
const maxLine = 1 << 20

// LineError is a malformed line of a text source.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

var errLineTooLong = fmt.Errorf("line longer than %d bytes", maxLine)

// lineReader splits a stream into '\n'-terminated lines, numbering them
// from 1. It never holds more than maxLine bytes of one line.
type lineReader struct {
	br      *bufio.Reader
	buf     []byte
	n       int
	tooLong bool
	err     error
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 16<<10)}
}

// next returns the next line without its '\n', and false at the end of
// the input or on a read error (see Err). The returned slice is valid
// until the next call. TooLong reports whether the line was cut.
func (lr *lineReader) next() ([]byte, bool) {
	lr.buf = lr.buf[:0]
	lr.tooLong = false
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if len(lr.buf)+len(chunk) > maxLine {
			lr.tooLong = true
		} else {
			lr.buf = append(lr.buf, chunk...)
		}
		switch {
		case err == nil:
			lr.n++
			return trimNewline(lr.buf), true
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(lr.buf) == 0 && !lr.tooLong {
				return nil, false
			}
			lr.n++
			return lr.buf, true
		default:
			lr.err = err
			return nil, false
		}
	}
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}

// Err returns the first read error, if any.
func (lr *lineReader) Err() error { return lr.err }

// lineErr builds a LineError for the current line.
func (lr *lineReader) lineErr(format string, args ...any) *LineError {
	return &LineError{Line: lr.n, Err: fmt.Errorf(format, args...)}
}

// isBlankOrComment reports whether a line of a colon-separated database
// is ignored, as glibc's nss_files does: blank after leading whitespace,
// or starting with '#'.
func isBlankOrComment(line []byte) bool {
	for _, c := range line {
		switch c {
		case ' ', '\t', '\r', '\v', '\f':
			continue
		case '#':
			return true
		}
		return false
	}
	return true
}

// trimLeftSpace drops leading blanks, as nss_files does.
func trimLeftSpace(line []byte) []byte {
	for len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		line = line[1:]
	}
	return line
}
