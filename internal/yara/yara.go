// Package yara is a pure-Go YARA engine: it compiles YARA 4.x rule sets and scans byte
// buffers with them, without cgo, so Vigil stays one static binary.
//
// Matching works like libyara: every string contributes short literal atoms to one
// Aho-Corasick automaton, one pass over the data finds candidate positions, and each
// candidate is verified (literal compare, or an anchored byte-level regular expression for
// hex strings and regexes). Strings with no usable atom are found by a direct search and
// produce a "slow string" compile warning. Regular expressions run on Go's RE2 engine, so
// matching time is linear in the input.
package yara

import (
	"io/fs"
	"time"
)

// DefaultMaxMatchesPerString bounds the matches recorded for one string in one scan when
// ScanOptions.MaxMatchesPerString is zero. libyara uses 1,000,000; we use a smaller bound
// because every match holds a copy of up to 64 bytes of data.
const DefaultMaxMatchesPerString = 10000

// MaxMatchData is the largest number of bytes kept in StringMatch.Data.
const MaxMatchData = 64

// Source is one rule file given to Compile.
type Source struct {
	// Name is used in errors, warnings and as the base for relative includes.
	Name string
	// Data is the rule text.
	Data []byte
}

// CompileOptions tunes Compile.
type CompileOptions struct {
	// SkipUnsupported drops rules that use a module or feature the engine lacks, with a
	// warning each, instead of failing the whole compile.
	SkipUnsupported bool
	// IncludeFS resolves include "x.yar" (nil: includes are refused).
	IncludeFS fs.FS
}

// Warning is a non-fatal compile diagnostic.
type Warning struct {
	Source string
	Line   int
	Rule   string
	Msg    string
}

// String formats the warning as file:line: rule: msg.
func (w Warning) String() string { return formatWarning(w) }

// ScanOptions bounds the work of one Scan.
type ScanOptions struct {
	// Timeout aborts the scan with ErrTimeout when exceeded (0: no limit).
	Timeout time.Duration
	// MaxMatchesPerString caps recorded matches per string (0: DefaultMaxMatchesPerString).
	MaxMatchesPerString int
}

// Match is one rule that matched.
type Match struct {
	Rule      string
	Namespace string
	Tags      []string
	Meta      map[string]any
	// Strings holds the matches of the rule's non-private strings, ordered by string
	// declaration and then offset.
	Strings []StringMatch
}

// StringMatch is one occurrence of a string.
type StringMatch struct {
	ID     string
	Offset int64
	// Data is the matched bytes, truncated to MaxMatchData.
	Data []byte
}
