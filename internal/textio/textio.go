// Package textio reads text sources one numbered line at a time, with a
// bound on the length of a line.
//
// It exists because bufio.Scanner bounds a line only by failing: a line
// longer than its buffer stops the scan with bufio.ErrTooLong, so one
// over-long line in a host file would lose every line after it. Host
// files are outside data, and a hostile or broken one must cost only its
// bad lines. Reader cuts a long line at the bound, says so, and goes on
// with the next line, never holding more than the bound of one line.
package textio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// ErrTooLong is Err's error when a Reader with FailLong meets a line
// longer than its bound.
var ErrTooLong = errors.New("line too long")

// Reader splits a stream into '\n'-terminated lines, numbered from 1.
// A last line without '\n' is a line; an empty input has none.
//
// The bound counts a line's bytes with its terminator. A longer line is
// cut to its first max bytes and reported by Long; the rest of it is
// read and dropped.
type Reader struct {
	// KeepCR keeps a '\r' before the '\n' (or at the end of the input) in
	// the line. By default "\r\n" ends a line as "\n" does.
	KeepCR bool
	// FailLong makes a line longer than the bound end the reading, as soon
	// as it is seen: Next returns false and Err returns ErrTooLong.
	FailLong bool

	br   *bufio.Reader
	max  int
	buf  []byte
	line []byte
	n    int
	long bool
	err  error
	eof  bool
}

// NewReader returns a Reader of r whose lines are at most limit bytes,
// terminator included; a limit below 1 is taken as 1.
func NewReader(r io.Reader, limit int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 4096), max: max(limit, 1)}
}

// Next advances to the next line, which Bytes and Text then return. It
// returns false at the end of the input, on a read error (a line cut
// short by the error is dropped), and for FailLong on a too-long line;
// Err tells these apart.
func (lr *Reader) Next() bool {
	if lr.err != nil || lr.eof {
		return false
	}
	lr.buf, lr.line, lr.long = lr.buf[:0], nil, false
	for {
		frag, err := lr.br.ReadSlice('\n')
		if len(lr.buf)+len(frag) > lr.max {
			if lr.FailLong {
				return lr.fail(ErrTooLong)
			}
			lr.long = true
			frag = frag[:max(0, lr.max-len(lr.buf))]
		}
		lr.buf = append(lr.buf, frag...)
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			lr.eof = true
			if len(lr.buf) == 0 {
				return false
			}
		default:
			return lr.fail(err)
		}
		lr.n++
		lr.line = lr.trim(lr.buf)
		return true
	}
}

func (lr *Reader) fail(err error) bool {
	lr.n++
	lr.err = err
	return false
}

func (lr *Reader) trim(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); !lr.KeepCR && n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// Bytes returns the current line without its terminator. It is valid
// until the next call of Next.
func (lr *Reader) Bytes() []byte { return lr.line }

// Text returns the current line without its terminator as a string.
func (lr *Reader) Text() string { return string(lr.line) }

// Num returns the number of the current line; after Next returned false
// with an error, the number of the line that failed.
func (lr *Reader) Num() int { return lr.n }

// Long reports whether the current line was longer than the bound, and
// so was cut.
func (lr *Reader) Long() bool { return lr.long }

// Err returns the read error, or ErrTooLong, that ended the reading; nil
// at the end of the input.
func (lr *Reader) Err() error { return lr.err }

// LineError is a malformed line of a text source.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// Errorf returns a LineError for the current line.
func (lr *Reader) Errorf(format string, args ...any) *LineError {
	return &LineError{Line: lr.n, Err: fmt.Errorf(format, args...)}
}
