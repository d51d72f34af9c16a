package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

// Limits on query parameters.
const (
	maxParamLen  = 256
	maxCursorLen = 512
	maxPageLimit = 1000
)

// params reads and validates query parameters, remembering the first
// error.
type params struct {
	q   url.Values
	err error
}

func (p *params) fail(format string, a ...any) {
	if p.err == nil {
		p.err = errorf(http.StatusBadRequest, format, a...)
	}
}

// text returns a parameter that must be valid UTF-8 without NUL or other
// control characters, at most maxParamLen bytes.
func (p *params) text(name string) string {
	v := strings.TrimSpace(p.q.Get(name))
	if err := checkText(v, maxParamLen); err != nil {
		p.fail("parameter %s: %v", name, err)
		return ""
	}
	return v
}

// checkText accepts valid UTF-8 up to max bytes without control characters
// other than tab and newline.
func checkText(v string, max int) error {
	if len(v) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("not valid UTF-8")
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return fmt.Errorf("contains control character %U", r)
		}
	}
	return nil
}

func (p *params) severity(name string) severity.Level {
	v := p.q.Get(name)
	if v == "" {
		return severity.Unspecified
	}
	l, err := severity.Parse(strings.ToLower(v))
	if err != nil {
		p.fail("parameter %s: unknown severity %q", name, clip(v))
		return severity.Unspecified
	}
	return l
}

func (p *params) time(name string) time.Time {
	v := p.q.Get(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil || t.Year() < 1970 || t.Year() > 2200 {
		p.fail("parameter %s: want an RFC 3339 time between 1970 and 2200, got %q", name, clip(v))
		return time.Time{}
	}
	return t.UTC()
}

func (p *params) int(name string, def, min, max int) int {
	v := p.q.Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		p.fail("parameter %s: want an integer from %d to %d, got %q", name, min, max, clip(v))
		return def
	}
	return n
}

// page reads limit, offset and cursor. Cursors are opaque: the store
// checks them; here they are only bounded.
func (p *params) page() store.Page {
	pg := store.Page{Limit: p.int("limit", 50, 1, maxPageLimit), Offset: p.int("offset", 0, 0, 1<<30)}
	c := p.q.Get("cursor")
	if len(c) > maxCursorLen || strings.IndexFunc(c, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		p.fail("parameter cursor: malformed")
		return pg
	}
	pg.Cursor = c
	return pg
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// parseAlertFilter reads an alert list's query: host, severity (minimum),
// status, rule, tactic, since, until, q (title substring), limit, offset,
// cursor.
func parseAlertFilter(q url.Values) (store.AlertFilter, error) {
	p := &params{q: q}
	f := store.AlertFilter{
		HostID:   p.text("host"),
		Severity: p.severity("severity"),
		Status:   store.AlertStatus(p.text("status")),
		RuleID:   p.text("rule"),
		Tactic:   p.text("tactic"),
		Since:    p.time("since"),
		Until:    p.time("until"),
		Text:     p.text("q"),
		Page:     p.page(),
	}
	if f.Status != "" && !f.Status.Valid() {
		p.fail("parameter status: unknown status %q", clip(string(f.Status)))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		p.fail("since must be before until")
	}
	return f, p.err
}

// parseHostFilter reads a host list's query: q (hostname substring),
// label, group, sort (hostname or last_seen), revoked (true/false),
// limit, offset, cursor.
func parseHostFilter(q url.Values) (store.HostFilter, error) {
	p := &params{q: q}
	f := store.HostFilter{Name: p.text("q"), Label: p.text("label"), Group: p.text("group"), Page: p.page()}
	switch q.Get("sort") {
	case "", "hostname":
	case "last_seen":
		f.Sort = store.SortLastSeen
	default:
		p.fail("parameter sort: want hostname or last_seen")
	}
	switch q.Get("revoked") {
	case "":
	case "true":
		f.Revoked = new(true)
	case "false":
		f.Revoked = new(false)
	default:
		p.fail("parameter revoked: want true or false")
	}
	return f, p.err
}

// parseVulnFilter reads a vulnerability list's query: min_severity, q,
// group, limit, offset.
func parseVulnFilter(q url.Values) (store.VulnFilter, error) {
	p := &params{q: q}
	f := store.VulnFilter{MinSeverity: p.severity("min_severity"), Text: p.text("q"), Group: p.text("group"),
		Limit: p.int("limit", 50, 1, maxPageLimit), Offset: p.int("offset", 0, 0, 1<<30)}
	return f, p.err
}

// parseAuditFilter reads an audit list's query: actor, action, object,
// since, until, limit, offset, cursor.
func parseAuditFilter(q url.Values) (store.AuditFilter, error) {
	p := &params{q: q}
	f := store.AuditFilter{Actor: p.text("actor"), Action: p.text("action"), Object: p.text("object"),
		Since: p.time("since"), Until: p.time("until"), Page: p.page()}
	return f, p.err
}

// splitList splits a comma- or newline-separated list, trimming blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
