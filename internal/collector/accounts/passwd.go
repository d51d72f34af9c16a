package accounts

import (
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/etcfiles"
)

// Password states, as inventory.User.PasswordState documents them.
const (
	PasswordNone    = "none"
	PasswordLocked  = "locked"
	PasswordSet     = "set"
	PasswordUnknown = "unknown"
)

// PasswordState classifies a crypt(5) hash field of shadow (or of passwd,
// where no shadow is used) and names its hashing scheme when it has one.
// A locked field ('!', '*', "!!", "*LK*") may still carry a hash behind
// the lock ("!$6$..."), whose scheme is then reported.
func PasswordState(hash string) (state, scheme string) {
	switch {
	case hash == "":
		return PasswordNone, ""
	case hash[0] == '!' || hash[0] == '*':
		return PasswordLocked, HashScheme(strings.TrimLeft(hash, "!*"))
	}
	s := HashScheme(hash)
	if s == "" {
		s = "unknown"
	}
	return PasswordSet, s
}

// HashScheme names the crypt(5) scheme of hash, or "" when it is none
// that crypt knows.
func HashScheme(hash string) string {
	if strings.HasPrefix(hash, "$") {
		id, _, ok := strings.Cut(hash[1:], "$")
		if !ok {
			return ""
		}
		switch id {
		case "1":
			return "md5"
		case "2", "2a", "2b", "2x", "2y":
			return "bcrypt"
		case "3":
			return "nthash"
		case "5":
			return "sha256"
		case "6":
			return "sha512"
		case "7":
			return "scrypt"
		case "y":
			return "yescrypt"
		case "gy":
			return "gost-yescrypt"
		case "sha1":
			return "sha1"
		case "md5":
			return "sun-md5"
		}
		return ""
	}
	switch {
	case len(hash) == 13 && isCryptChars(hash):
		return "des"
	case len(hash) == 20 && hash[0] == '_' && isCryptChars(hash[1:]):
		return "bsdi-des"
	}
	return ""
}

func isCryptChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '/' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// noMaxDays is the conventional "no maximum password age" value.
const noMaxDays = 99999

// shadowDates converts shadow day counts to the inventory's fields.
func shadowDates(e *etcfiles.ShadowEntry) (lastChange *time.Time, maxDays *int) {
	if e.LastChange >= 0 {
		t := time.Unix(int64(e.LastChange)*86400, 0).UTC()
		lastChange = &t
	}
	if e.MaxDays >= 0 && e.MaxDays < noMaxDays {
		m := e.MaxDays
		maxDays = &m
	}
	return lastChange, maxDays
}

// interactiveShell reports whether shell gives a login session: false
// for "" and for the programs that refuse or end logins.
func interactiveShell(shell string) bool {
	shell = strings.TrimSpace(shell)
	if shell == "" {
		return false
	}
	base := shell[strings.LastIndexByte(shell, '/')+1:]
	switch base {
	case "nologin", "false", "true", "sync", "shutdown", "halt", "":
		return false
	}
	return true
}
