package emergency

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// maxAlternatives bounds the patterns one glob expands to through braces.
const maxAlternatives = 64

// glob matches unrooted slash-separated paths ("opt/app/lib/x.jar")
// against a pattern of path.Match segments, where a "**" segment matches
// any number of directories (none included) and "{a,b}" alternatives are
// expanded. A leading "/" (the scanned root) is ignored.
type glob struct {
	src  string
	alts [][]string // segments of each alternative
}

func compileGlob(pattern string) (*glob, error) {
	p := strings.TrimPrefix(pattern, "/")
	if p == "" {
		return nil, fmt.Errorf("pattern %q: empty", pattern)
	}
	exp, err := expandBraces(p)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	g := &glob{src: pattern}
	for _, e := range exp {
		segs := strings.Split(e, "/")
		for _, s := range segs {
			switch {
			case s == "" || s == "." || s == "..":
				return nil, fmt.Errorf("pattern %q: empty, '.' or '..' path element", pattern)
			case s != "**" && strings.Contains(s, "**"):
				return nil, fmt.Errorf("pattern %q: '**' must be a whole path element", pattern)
			}
			if _, err := path.Match(s, ""); err != nil {
				return nil, fmt.Errorf("pattern %q: %w", pattern, err)
			}
		}
		g.alts = append(g.alts, segs)
	}
	return g, nil
}

// expandBraces expands non-nested {a,b,c} groups.
func expandBraces(p string) ([]string, error) {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		if strings.IndexByte(p, '}') >= 0 {
			return nil, errors.New("unmatched '}'")
		}
		return []string{p}, nil
	}
	end := strings.IndexByte(p[open:], '}')
	if end < 0 {
		return nil, errors.New("unmatched '{'")
	}
	end += open
	inner := p[open+1 : end]
	if strings.IndexByte(inner, '{') >= 0 {
		return nil, errors.New("nested '{' not supported")
	}
	rest, err := expandBraces(p[end+1:])
	if err != nil {
		return nil, err
	}
	var out []string
	for _, alt := range strings.Split(inner, ",") {
		if strings.Contains(alt, "/") {
			return nil, errors.New("'/' inside '{...}' not supported")
		}
		for _, r := range rest {
			out = append(out, p[:open]+alt+r)
			if len(out) > maxAlternatives {
				return nil, fmt.Errorf("more than %d alternatives", maxAlternatives)
			}
		}
	}
	return out, nil
}

// Match reports whether the unrooted path p matches.
func (g *glob) Match(p string) bool {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for _, alt := range g.alts {
		if matchSegs(alt, segs) {
			return true
		}
	}
	return false
}

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			// Collapse repeated "**", then try every split.
			for len(pat) > 0 && pat[0] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for i := 0; i <= len(segs); i++ {
				if matchSegs(pat, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// MayContain reports whether a file under the unrooted directory dir
// (".": the root) can match, to prune a walk.
func (g *glob) MayContain(dir string) bool {
	if dir == "." || dir == "" {
		return true
	}
	segs := strings.Split(dir, "/")
	for _, alt := range g.alts {
		if prefixMayMatch(alt, segs) {
			return true
		}
	}
	return false
}

// prefixMayMatch reports whether directory segments dirs can be the
// leading directories of a path matching pat.
func prefixMayMatch(pat, dirs []string) bool {
	for len(dirs) > 0 {
		if len(pat) == 0 {
			return false
		}
		if pat[0] == "**" {
			return true
		}
		// The last pattern element names the file, not a directory.
		if len(pat) == 1 {
			return false
		}
		if ok, _ := path.Match(pat[0], dirs[0]); !ok {
			return false
		}
		pat, dirs = pat[1:], dirs[1:]
	}
	return true
}

// literal returns the path when the glob is one plain path without
// metacharacters.
func (g *glob) literal() (string, bool) {
	if len(g.alts) != 1 {
		return "", false
	}
	for _, s := range g.alts[0] {
		if strings.ContainsAny(s, `*?[\`) {
			return "", false
		}
	}
	return strings.Join(g.alts[0], "/"), true
}
