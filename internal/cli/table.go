package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// termWidth is the width table output must fit.
const termWidth = 100

// table renders fixed-width columns that fit termWidth. Each column has a
// maximum width; cells longer than that are cut with "…". The last column
// takes whatever width is left.
type table struct {
	title string
	cols  []column
	rows  [][]string
	// wrapLast wraps the last column onto continuation lines instead of
	// cutting it, for text a person must read whole.
	wrapLast bool
}

type column struct {
	name string
	max  int
}

func newTable(title string, cols ...column) *table { return &table{title: title, cols: cols} }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) render(w io.Writer) {
	fmt.Fprintln(w, t.title)
	if len(t.rows) == 0 {
		fmt.Fprintln(w, "  (none)")
		fmt.Fprintln(w)
		return
	}
	// Shrink each column to its widest cell, then give the rest to the
	// last column.
	widths := make([]int, len(t.cols))
	for i, c := range t.cols {
		widths[i] = utf8.RuneCountInString(c.name)
		for _, r := range t.rows {
			if i < len(r) {
				widths[i] = max(widths[i], utf8.RuneCountInString(r[i]))
			}
		}
		if c.max > 0 {
			widths[i] = min(widths[i], c.max)
		}
	}
	const indent, gap = 2, 2
	used := indent
	for i := range widths[:len(widths)-1] {
		used += widths[i] + gap
	}
	last := len(widths) - 1
	widths[last] = max(min(widths[last], termWidth-used), 4)

	line := func(cells []string) {
		var b strings.Builder
		b.WriteString(strings.Repeat(" ", indent))
		for i, wd := range widths {
			cell := ""
			if i < len(cells) {
				cell = cells[i]
			}
			cell = truncate(cell, wd)
			b.WriteString(cell)
			if i < last {
				b.WriteString(strings.Repeat(" ", wd-utf8.RuneCountInString(cell)+gap))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	line(names)
	for _, r := range t.rows {
		if !t.wrapLast || len(r) <= last {
			line(r)
			continue
		}
		for i, part := range wrapText(r[last], widths[last]) {
			cells := make([]string, len(widths))
			if i == 0 {
				copy(cells, r)
			}
			cells[last] = part
			line(cells)
		}
	}
	fmt.Fprintln(w)
}

// wrapText splits s into lines of at most n runes, breaking at spaces
// where it can.
func wrapText(s string, n int) []string {
	var out []string
	for utf8.RuneCountInString(s) > n {
		r := []rune(s)
		cut := n
		for i := n; i > 0; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		out = append(out, strings.TrimRight(string(r[:cut]), " "))
		s = strings.TrimLeft(string(r[cut:]), " ")
	}
	return append(out, s)
}

// truncate cuts s to at most n runes, marking the cut with "…". Control
// characters (from hostile file contents) are replaced so a cell cannot
// move the cursor.
func truncate(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// keyValues renders "  key  value" lines with aligned keys.
func keyValues(w io.Writer, title string, kv [][2]string) {
	fmt.Fprintln(w, title)
	kw := 0
	for _, p := range kv {
		kw = max(kw, len(p[0]))
	}
	for _, p := range kv {
		if p[1] == "" {
			continue
		}
		fmt.Fprintf(w, "  %-*s  %s\n", kw, p[0], truncate(p[1], termWidth-kw-4))
	}
	fmt.Fprintln(w)
}
