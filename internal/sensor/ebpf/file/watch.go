package file

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// maxWatchLen is the longest watch entry: LPM trie keys carry at most 256
// bytes of path.
const maxWatchLen = 255

// nameKeyLen is the size of the read prefilter's basename key (NUL
// included).
const nameKeyLen = 32

// watchEntry is one compiled watch-list entry.
type watchEntry struct {
	key     string // the bytes matched as a prefix
	exact   bool   // the path must equal key
	covered bool   // exact, but a prefix entry also covers key
}

// compileWatch checks and compiles a watch list:
//
//   - "/dir/" (ending in a slash) matches everything below /dir;
//   - "/etc/rc*" (ending in an asterisk) matches every path starting with
//     "/etc/rc";
//   - anything else matches exactly that path.
//
// Entries must be absolute and clean (as path.Clean leaves them, apart from
// the trailing slash or asterisk) and at most 255 bytes. With exactOnly,
// only exact entries are allowed.
func compileWatch(list []string, exactOnly bool) ([]watchEntry, error) {
	byKey := map[string]*watchEntry{}
	for i, p := range list {
		e, err := parseWatch(p)
		if err != nil {
			return nil, fmt.Errorf("watch entry %d %q: %w", i, p, err)
		}
		if exactOnly && !e.exact {
			return nil, fmt.Errorf("watch entry %d %q: read watches name single files", i, p)
		}
		if old, ok := byKey[e.key]; ok {
			old.exact = old.exact && e.exact // a prefix covers the exact path too
			continue
		}
		byKey[e.key] = &e
	}
	out := make([]watchEntry, 0, len(byKey))
	for _, e := range byKey {
		if e.exact {
			for _, o := range byKey {
				if !o.exact && strings.HasPrefix(e.key, o.key) {
					e.covered = true
					break
				}
			}
		}
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b watchEntry) int { return strings.Compare(a.key, b.key) })
	return out, nil
}

func parseWatch(p string) (watchEntry, error) {
	switch {
	case p == "":
		return watchEntry{}, fmt.Errorf("empty")
	case p[0] != '/':
		return watchEntry{}, fmt.Errorf("not absolute")
	case strings.IndexByte(p, 0) >= 0:
		return watchEntry{}, fmt.Errorf("contains NUL")
	case len(p) > maxWatchLen:
		return watchEntry{}, fmt.Errorf("longer than %d bytes", maxWatchLen)
	}
	e := watchEntry{key: p, exact: true}
	body := p
	switch {
	case strings.HasSuffix(p, "*"):
		body, e.key, e.exact = strings.TrimSuffix(p, "*"), strings.TrimSuffix(p, "*"), false
	case strings.HasSuffix(p, "/"):
		body, e.exact = strings.TrimSuffix(p, "/"), false
	}
	if strings.Contains(body, "*") {
		return watchEntry{}, fmt.Errorf("an asterisk is allowed only at the end")
	}
	if body == "" { // "/" or "/*"
		return e, nil
	}
	if c := path.Clean(body); c != body && c+"/" != body {
		return watchEntry{}, fmt.Errorf("not clean (want %q)", c)
	}
	return e, nil
}

// nameKey is the read prefilter key of an exact path: its basename,
// truncated to what the kernel compares.
func nameKey(p string) [nameKeyLen]byte {
	var k [nameKeyLen]byte
	copy(k[:nameKeyLen-1], path.Base(p))
	return k
}
