package accounts

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/textio"
)

const sshdConfig = "/etc/ssh/sshd_config"

// sshdWords splits an sshd_config line into words, honouring double
// quotes; '#' outside quotes starts a comment. The keyword may be joined
// to its first argument by '=' ("AuthorizedKeysFile=.ssh/keys").
func sshdWords(s string) ([]string, error) {
	var words []string
	var b strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted = !quoted
			inWord = true
		case quoted:
			b.WriteByte(c)
		case c == '#' && !inWord:
			i = len(s)
		case isSpace(c) || c == '=' && len(words) == 0:
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, errors.New("unterminated quoted string")
	}
	if inWord {
		words = append(words, b.String())
	}
	return words, nil
}

// authorizedKeysFiles returns the AuthorizedKeysFile patterns sshd uses,
// read from sshd_config and the files it includes (first value wins, as
// in sshd; settings inside Match blocks are conditional and ignored), or
// sshd's default when none is set. An empty list means "none".
func authorizedKeysFiles(fsys fs.FS, problems *plugin.Problems) []string {
	w := &sshdWalker{fsys: fsys, problems: problems}
	w.file(sshdConfig, 0)
	if w.files == nil {
		return defaultAuthorizedKeysFiles
	}
	return w.files
}

type sshdWalker struct {
	fsys     fs.FS
	problems *plugin.Problems
	files    []string // nil until set
	inMatch  bool
}

func (w *sshdWalker) file(name string, depth int) {
	if depth > 16 {
		w.problems.Addf("%s: Include nested too deeply", name)
		return
	}
	f, err := w.fsys.Open(unrooted(name))
	if err != nil {
		if !isNotExist(err) || depth > 0 {
			w.problems.Addf("read %s: %v", name, err)
		}
		return
	}
	defer f.Close()
	w.read(name, f, depth)
}

func (w *sshdWalker) read(name string, r io.Reader, depth int) {
	lr := newLineReader(r)
	for w.files == nil && lr.Next() {
		line := lr.Bytes()
		if lr.Long() {
			w.problems.Add(errorsWithFile(name, lr.Errorf("%w", errLineTooLong)))
			continue
		}
		words, err := sshdWords(string(line))
		if err != nil {
			w.problems.Add(errorsWithFile(name, &textio.LineError{Line: lr.Num(), Err: err}))
			continue
		}
		if len(words) == 0 {
			continue
		}
		switch strings.ToLower(words[0]) {
		case "match":
			w.inMatch = !(len(words) == 2 && strings.EqualFold(words[1], "all"))
		case "include":
			if w.inMatch {
				continue
			}
			for _, pat := range words[1:] {
				if !strings.HasPrefix(pat, "/") {
					pat = "/etc/ssh/" + pat
				}
				matches, err := fs.Glob(w.fsys, unrooted(pat))
				if err != nil {
					w.problems.Add(errorsWithFile(name, lr.Errorf("Include %q: %w", pat, err)))
					continue
				}
				for _, m := range matches {
					w.file("/"+m, depth+1)
				}
			}
		case "authorizedkeysfile":
			if w.inMatch {
				continue
			}
			if len(words) < 2 {
				w.problems.Add(errorsWithFile(name, lr.Errorf("AuthorizedKeysFile without a value")))
				continue
			}
			w.files = []string{}
			if len(words) == 2 && strings.EqualFold(words[1], "none") {
				return
			}
			w.files = append(w.files, words[1:]...)
		}
	}
	if err := lr.Err(); err != nil {
		w.problems.Addf("read %s: %v", name, err)
	}
}

// unrooted turns an absolute path inside the root into an fs.FS path.
func unrooted(p string) string {
	p = strings.TrimLeft(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}
