package accounts

import (
	"fmt"
	"io"

	"github.com/vigilsec/vigil/internal/textio"
)

// maxLine bounds one line of a text source. Longer lines are reported as
// errors and skipped, so one hostile file cannot grow memory without bound.
const maxLine = 1 << 20

var errLineTooLong = fmt.Errorf("line longer than %d bytes", maxLine)

// newLineReader reads the lines of a text source. Only '\n' ends a line:
// a '\r' before it stays in the line, for each parser to judge.
func newLineReader(r io.Reader) *textio.Reader {
	lr := textio.NewReader(r, maxLine)
	lr.KeepCR = true
	return lr
}
