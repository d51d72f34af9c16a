package syslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// parsed is a message as the test collector reads it.
type parsed struct {
	Pri                      int
	Time                     string
	Host, App, ProcID, MsgID string
	SD                       []Element
	Msg                      string
}

const maxFrame = 1 << 20

// readFrame reads one octet-counted frame (RFC 6587 §3.4.1).
func readFrame(r *bufio.Reader) ([]byte, error) {
	lenStr, err := r.ReadString(' ')
	if err != nil {
		if errors.Is(err, io.EOF) && lenStr == "" {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("frame length: %w", err)
	}
	lenStr = strings.TrimSuffix(lenStr, " ")
	n, err := strconv.Atoi(lenStr)
	if err != nil || n <= 0 || n > maxFrame || lenStr[0] == '0' {
		return nil, fmt.Errorf("bad frame length %q", lenStr)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("frame body: %w", err)
	}
	return b, nil
}

func field(s string) (string, string, error) {
	i := strings.IndexByte(s, ' ')
	if i <= 0 {
		return "", "", fmt.Errorf("missing field in %q", s)
	}
	return s[:i], s[i+1:], nil
}

// parseMessage parses an RFC 5424 message strictly.
func parseMessage(b []byte) (parsed, error) {
	var p parsed
	s := string(b)
	if !strings.HasPrefix(s, "<") {
		return p, errors.New("no PRI")
	}
	end := strings.Index(s, ">1 ")
	if end < 2 || end > 4 {
		return p, errors.New("bad PRI/VERSION")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri < 0 || pri > 191 {
		return p, fmt.Errorf("bad PRI %q", s[1:end])
	}
	p.Pri = pri
	s = s[end+3:]
	var fields [5]string
	for i := range fields {
		if fields[i], s, err = field(s); err != nil {
			return p, err
		}
	}
	p.Time, p.Host, p.App, p.ProcID, p.MsgID = fields[0], fields[1], fields[2], fields[3], fields[4]
	if p.Time != "-" {
		if _, err := time.Parse(time.RFC3339Nano, p.Time); err != nil {
			return p, fmt.Errorf("bad timestamp: %w", err)
		}
	}
	for i, f := range fields[1:] {
		limit := []int{255, 48, 128, 32}[i]
		if len(f) > limit {
			return p, fmt.Errorf("header field %q too long", f)
		}
		for j := 0; j < len(f); j++ {
			if f[j] < 33 || f[j] > 126 {
				return p, fmt.Errorf("header field %q not PRINTUSASCII", f)
			}
		}
	}
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	} else {
		for strings.HasPrefix(s, "[") {
			var e Element
			s = s[1:]
			i := strings.IndexAny(s, " ]")
			if i <= 0 {
				return p, errors.New("bad SD-ID")
			}
			e.ID, s = s[:i], s[i:]
			for strings.HasPrefix(s, " ") {
				s = s[1:]
				eq := strings.Index(s, "=\"")
				if eq <= 0 {
					return p, errors.New("bad SD-PARAM")
				}
				name := s[:eq]
				s = s[eq+2:]
				var v strings.Builder
				closed := false
				for len(s) > 0 {
					c := s[0]
					s = s[1:]
					if c == '\\' && len(s) > 0 && (s[0] == '"' || s[0] == '\\' || s[0] == ']') {
						v.WriteByte(s[0])
						s = s[1:]
						continue
					}
					if c == '"' {
						closed = true
						break
					}
					if c == ']' {
						return p, errors.New("unescaped ] in PARAM-VALUE")
					}
					v.WriteByte(c)
				}
				if !closed {
					return p, errors.New("unterminated PARAM-VALUE")
				}
				e.Params = append(e.Params, Param{name, v.String()})
			}
			if !strings.HasPrefix(s, "]") {
				return p, errors.New("unterminated SD-ELEMENT")
			}
			s = s[1:]
			p.SD = append(p.SD, e)
		}
		if p.SD == nil {
			return p, errors.New("no STRUCTURED-DATA")
		}
	}
	if s != "" {
		if s[0] != ' ' {
			return p, fmt.Errorf("junk after STRUCTURED-DATA: %q", s)
		}
		p.Msg = s[1:]
	}
	return p, nil
}
