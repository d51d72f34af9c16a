// Package epss parses FIRST's Exploit Prediction Scoring System scores
// (https://www.first.org/epss/data_stats), the daily CSV published as
// epss_scores-YYYY-MM-DD.csv.gz:
//
//	#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z
//	cve,epss,percentile
//	CVE-1999-0001,0.01297,0.79209
//
// The first comment line is optional (early files lack it); the header
// is required. Gzip-compressed input is recognised and decompressed.
package epss

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/plugin"
)

// Limits bound what Parse reads. The real file has about 300,000 rows
// (12 MB uncompressed).
const (
	MaxSize    = 512 << 20 // uncompressed bytes
	MaxRows    = 5_000_000
	maxLineLen = 4096
)

// Scores is one EPSS publication. Rows are sorted by CVE key and unique.
type Scores struct {
	ModelVersion string
	ScoreDate    time.Time
	Rows         []Score
}

// Score is the EPSS probability (0..1) of exploitation activity in the
// next 30 days and its percentile among all scored CVEs.
type Score struct {
	CVE        string  `json:"cve"`
	EPSS       float64 `json:"epss"`
	Percentile float64 `json:"percentile"`
}

// Key maps a canonical CVE ID ("CVE-2021-44228") to a number that sorts
// like (year, sequence) and back (see CVE). It reports false for IDs
// that are not canonical: 4-digit year, sequence of at least 4 digits
// with no leading zero beyond that padding.
func Key(cve string) (uint64, bool) {
	rest, ok := strings.CutPrefix(cve, "CVE-")
	if !ok || len(rest) < 9 || rest[4] != '-' {
		return 0, false
	}
	year, seq := rest[:4], rest[5:]
	if len(seq) > 10 || (len(seq) > 4 && seq[0] == '0') {
		return 0, false
	}
	y, ok1 := digits(year)
	n, ok2 := digits(seq)
	if !ok1 || !ok2 {
		return 0, false
	}
	return y<<40 | n, true
}

// CVE is the inverse of Key.
func CVE(key uint64) string {
	return fmt.Sprintf("CVE-%04d-%04d", key>>40, key&(1<<40-1))
}

func digits(s string) (uint64, bool) {
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, len(s) > 0
}

// Parse reads EPSS scores. Input that is not EPSS CSV (no header) is an
// error; a row that cannot be used is skipped and reported as
// "line N: ..." in a *plugin.PartialError returned with the scores.
func Parse(r io.Reader) (*Scores, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	lr := &io.LimitedReader{R: br, N: MaxSize + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 512), maxLineLen)

	s := &Scores{}
	var problems plugin.Problems
	line, header := 0, false
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "":
			continue
		case !header && strings.HasPrefix(text, "#"):
			if err := s.parseComment(text[1:]); err != nil {
				problems.Addf("line %d: %v", line, err)
			}
			continue
		case !header:
			if !strings.EqualFold(text, "cve,epss,percentile") {
				return nil, fmt.Errorf("line %d: not an EPSS header (want \"cve,epss,percentile\"): %q", line, truncate(text))
			}
			header = true
			continue
		}
		if len(s.Rows) >= MaxRows {
			return nil, fmt.Errorf("more than %d rows", MaxRows)
		}
		row, err := parseRow(text)
		if err != nil {
			problems.Addf("line %d: %v", line, err)
			continue
		}
		s.Rows = append(s.Rows, row)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes", line+1, maxLineLen)
		}
		return nil, fmt.Errorf("read: %w", err)
	}
	if lr.N <= 0 {
		return nil, fmt.Errorf("larger than %d bytes", MaxSize)
	}
	if !header {
		return nil, errors.New("not EPSS CSV: no \"cve,epss,percentile\" header")
	}
	slices.SortFunc(s.Rows, func(a, b Score) int {
		ka, _ := Key(a.CVE)
		kb, _ := Key(b.CVE)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	n := len(s.Rows)
	s.Rows = slices.CompactFunc(s.Rows, func(a, b Score) bool { return a.CVE == b.CVE })
	if d := n - len(s.Rows); d > 0 {
		problems.Addf("%d duplicate CVE rows dropped", d)
	}
	return s, problems.Err()
}

// parseComment reads "model_version:v2023.03.01,score_date:2023-03-05T00:00:00+0000".
func (s *Scores) parseComment(text string) error {
	for field := range strings.SplitSeq(text, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), ":")
		if !ok {
			continue
		}
		switch k {
		case "model_version":
			s.ModelVersion = v
		case "score_date":
			t, err := parseTime(v)
			if err != nil {
				return fmt.Errorf("score_date %q: not a time", truncate(v))
			}
			s.ScoreDate = t
		}
	}
	return nil
}

func parseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700", time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("bad time")
}

func parseRow(text string) (Score, error) {
	cve, rest, ok1 := strings.Cut(text, ",")
	e, p, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 || strings.Contains(p, ",") {
		return Score{}, fmt.Errorf("want 3 fields: %q", truncate(text))
	}
	if _, ok := Key(cve); !ok {
		return Score{}, fmt.Errorf("%q: not a CVE ID", truncate(cve))
	}
	ev, err := prob(e)
	if err != nil {
		return Score{}, fmt.Errorf("%s: epss %q: %v", cve, truncate(e), err)
	}
	pv, err := prob(p)
	if err != nil {
		return Score{}, fmt.Errorf("%s: percentile %q: %v", cve, truncate(p), err)
	}
	return Score{CVE: cve, EPSS: ev, Percentile: pv}, nil
}

func prob(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("not a number")
	}
	if math.IsNaN(v) || v < 0 || v > 1 {
		return 0, errors.New("not in [0, 1]")
	}
	return v, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
