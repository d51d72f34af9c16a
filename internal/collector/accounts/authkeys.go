package accounts

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/vigilsec/vigil/internal/textio"
)

// AuthorizedKeyEntry is one key line of an authorized_keys file.
type AuthorizedKeyEntry struct {
	Line        int
	Type        string
	Fingerprint string // "SHA256:..." as ssh-keygen -l prints it
	Comment     string
	Options     []string
}

// ParseAuthorizedKeys reads an authorized_keys file (sshd(8) "AUTHORIZED_KEYS
// FILE FORMAT"). Blank lines and '#' comments are skipped; a line that is
// not a valid key gives a LineError.
func ParseAuthorizedKeys(r io.Reader) (keys []AuthorizedKeyEntry, lineErrs []*textio.LineError, err error) {
	lr := newLineReader(r)
	for lr.Next() {
		line := lr.Bytes()
		if lr.Long() {
			lineErrs = append(lineErrs, lr.Errorf("%w", errLineTooLong))
			continue
		}
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		k, err := ParseAuthorizedKeyLine(s)
		if err != nil {
			lineErrs = append(lineErrs, &textio.LineError{Line: lr.Num(), Err: err})
			continue
		}
		k.Line = lr.Num()
		keys = append(keys, k)
	}
	return keys, lineErrs, lr.Err()
}

// ParseAuthorizedKeyLine parses "[options] keytype base64 [comment]". As
// sshd does, it first reads the line as a key, and only when that fails
// as options followed by a key. Option values may be double-quoted and
// then hold commas, spaces and \" escapes.
func ParseAuthorizedKeyLine(s string) (AuthorizedKeyEntry, error) {
	s = strings.TrimLeft(s, " \t")
	k, err := parseKey(s)
	if err == nil {
		return k, nil
	}
	if first, _, _ := strings.Cut(s, " "); isKeyType(first) {
		return k, err
	}
	opts, rest, oerr := splitOptions(s)
	if oerr != nil {
		return k, oerr
	}
	k, err = parseKey(rest)
	if err != nil {
		return k, err
	}
	k.Options = opts
	return k, nil
}

// splitOptions reads the comma-separated options up to the first
// whitespace outside quotes.
func splitOptions(s string) (opts []string, rest string, err error) {
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && quoted && i+1 < len(s) && s[i+1] == '"':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ',':
			if i == start {
				return nil, "", errors.New("empty option")
			}
			opts = append(opts, s[start:i])
			start = i + 1
		case c == ' ' || c == '\t':
			if i == start {
				return nil, "", errors.New("empty option")
			}
			opts = append(opts, s[start:i])
			return opts, strings.TrimLeft(s[i:], " \t"), nil
		}
	}
	if quoted {
		return nil, "", errors.New("unterminated quoted option")
	}
	return nil, "", errors.New("no key after options")
}

// parseKey reads "keytype base64 [comment]".
func parseKey(s string) (AuthorizedKeyEntry, error) {
	var k AuthorizedKeyEntry
	typ, rest, _ := strings.Cut(s, " ")
	if i := strings.IndexByte(typ, '\t'); i >= 0 {
		typ, rest = typ[:i], typ[i+1:]+" "+rest
	}
	rest = strings.TrimLeft(rest, " \t")
	if typ == "" || rest == "" {
		return k, errors.New("missing key")
	}
	b64, comment, _ := strings.Cut(rest, " ")
	if i := strings.IndexByte(b64, '\t'); i >= 0 {
		b64, comment = b64[:i], b64[i+1:]+" "+comment
	}
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if blob, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return k, fmt.Errorf("key %q: invalid base64", typ)
		}
	}
	pk, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return k, fmt.Errorf("key %q: %w", typ, err)
	}
	if pk.Type() != typ {
		return k, fmt.Errorf("key type %q does not match key data (%q)", typ, pk.Type())
	}
	k.Type = typ
	k.Fingerprint = ssh.FingerprintSHA256(pk)
	k.Comment = strings.TrimSpace(comment)
	return k, nil
}

// isKeyType reports whether s names an OpenSSH public key type.
func isKeyType(s string) bool {
	s = strings.TrimSuffix(s, "-cert-v01@openssh.com")
	switch s {
	case "ssh-rsa", "ssh-dss", "ssh-ed25519", "ssh-ed448",
		"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
		"sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519@openssh.com":
		return true
	}
	return strings.HasPrefix(s, "sk-ecdsa-sha2-nistp256") || strings.HasPrefix(s, "sk-ssh-ed25519")
}

// defaultAuthorizedKeysFiles is sshd's default AuthorizedKeysFile.
var defaultAuthorizedKeysFiles = []string{".ssh/authorized_keys", ".ssh/authorized_keys2"}

// expandKeysFile expands the %h, %u, %U and %% tokens of an
// AuthorizedKeysFile pattern, and makes relative paths relative to home.
func expandKeysFile(pattern, home, user string, uid int) (string, error) {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(pattern) {
			return "", fmt.Errorf("AuthorizedKeysFile %q: trailing '%%'", pattern)
		}
		i++
		switch pattern[i] {
		case '%':
			b.WriteByte('%')
		case 'h':
			b.WriteString(home)
		case 'u':
			b.WriteString(user)
		case 'U':
			b.WriteString(strconv.Itoa(uid))
		default:
			return "", fmt.Errorf("AuthorizedKeysFile %q: unknown token %%%c", pattern, pattern[i])
		}
	}
	p := b.String()
	if !strings.HasPrefix(p, "/") {
		p = strings.TrimSuffix(home, "/") + "/" + p
	}
	return p, nil
}
