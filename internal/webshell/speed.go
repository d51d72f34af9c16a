package webshell

import (
	"encoding/binary"
	"strings"
	"sync"
	"unsafe"
)

// Helpers that keep the hot paths of analysis cheap without changing what
// they compute. Each one documents why it returns exactly what the plain
// code it replaces would.

// maxDangerousName is the length of the longest key of dangerousNames.
var maxDangerousName = func() int {
	n := 0
	for k := range dangerousNames {
		n = max(n, len(k))
	}
	return n
}()

// dangerousKey returns strings.ToLower(s) when the result can be a key of
// dangerousNames, and "" (no key) otherwise, without lower-casing (copying)
// long constants such as whole decoded payloads. Lower-casing shrinks a
// string by at most a factor of three (U+212A KELVIN SIGN, three bytes,
// becomes "k"), so a string longer than three times the longest key cannot
// lower-case to a key.
func dangerousKey(s string) string {
	if len(s) > 3*maxDangerousName {
		return ""
	}
	return strings.ToLower(s)
}

// bytesString returns the bytes of b as a string without copying them. The
// caller must not modify b while the string is in use: AnalyzeWith only
// uses it for the duration of the call, and every string a Result carries
// is built afresh (rule IDs by concatenation, evidence through clip), so no
// Result aliases the caller's buffer.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// needleSet finds which of up to 64 needles occur in a text in one pass,
// instead of one strings.Contains pass per needle.
type needleSet struct {
	needles []string
	byFirst [256][]uint8         // indexes of the needles starting with each byte
	pairs   [1 << 16 / 64]uint64 // bit set of the needles' first two bytes
}

func newNeedleSet(needles ...string) *needleSet {
	if len(needles) > 64 {
		panic("needleSet: more than 64 needles")
	}
	ns := &needleSet{needles: needles}
	for i, n := range needles {
		if len(n) < 2 {
			panic("needleSet: needle shorter than two bytes")
		}
		ns.byFirst[n[0]] = append(ns.byFirst[n[0]], uint8(i))
		p := uint(n[0])<<8 | uint(n[1])
		ns.pairs[p/64] |= 1 << (p % 64)
	}
	return ns
}

// find returns a bit set: bit i is set when needles[i] occurs in s
// (strings.Contains(s, needles[i])). Needles are at least two bytes long,
// so a position whose two bytes start no needle is skipped at once.
func (ns *needleSet) find(s string) uint64 {
	var found uint64
	all := uint64(1)<<len(ns.needles) - 1
	if len(ns.needles) == 64 {
		all = ^uint64(0)
	}
	for i := 0; i+1 < len(s); i++ {
		p := uint(s[i])<<8 | uint(s[i+1])
		if ns.pairs[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		for _, j := range ns.byFirst[s[i]] {
			if found&(1<<j) == 0 && strings.HasPrefix(s[i:], ns.needles[j]) {
				found |= 1 << j
			}
		}
		if found == all {
			break
		}
	}
	return found
}

// hasScrencMarker reports strings.Contains(s, "#@~^"), the start of a
// Windows Script Encoder block, anchored on the rare '~' rather than the
// common '#' so that ordinary pages are passed over at memchr speed.
//
// Pages full of '~' (PHP string negation obfuscation) make that a call per
// byte or two, so after a few misses the rest of s is left to
// strings.Index, which switches to a vector search itself: every '~'
// before i has been checked, so a marker there has its '~' at i or later
// and starts at i-2 or later.
func hasScrencMarker(s string) bool {
	for i, misses := 0, 0; ; misses++ {
		if misses == 64 {
			return strings.Contains(s[max(i-2, 0):], "#@~^")
		}
		j := strings.IndexByte(s[i:], '~')
		if j < 0 {
			return false
		}
		i += j
		if i >= 2 && i+1 < len(s) && s[i-2] == '#' && s[i-1] == '@' && s[i+1] == '^' {
			return true
		}
		i++
	}
}

// mayHoldServerCode is the prefilter of AnalyzeWith: it returns false only
// when detectLangs(asciiLower(src)) finds no language and
// hasUTF7CodePage(asciiLower(src)) is false, so the page cannot be
// analysed as server code at all. Every language test of detectLangs needs
// one of these markers (case-insensitively for letters):
//
//	"<?"            PHP open tags (hasPHPTag)
//	"<%"            server blocks and directives (hasASPBlock, directiveLang, hasUTF7CodePage)
//	"runat" [ \t]* "="  server tags (hasServerTag)
//	"jsp:"          JSP actions and jsp:root
//
// It runs on the original bytes at memchr speed, so most files without
// server code are passed over without a lower-cased copy.
func mayHoldServerCode(src string) bool {
	for i := 0; ; {
		j := strings.IndexByte(src[i:], '<')
		if j < 0 {
			break
		}
		i += j + 1
		if i < len(src) && (src[i] == '?' || src[i] == '%') {
			return true
		}
	}
	for i := 0; ; {
		j := strings.IndexByte(src[i:], ':')
		if j < 0 {
			break
		}
		i += j
		if i >= 3 && strings.EqualFold(src[i-3:i], "jsp") {
			return true
		}
		i++
	}
	for i := 0; ; {
		j := strings.IndexByte(src[i:], '=')
		if j < 0 {
			break
		}
		i += j
		k := i
		for k > 0 && (src[k-1] == ' ' || src[k-1] == '\t') {
			k--
		}
		if k >= 5 && strings.EqualFold(src[k-5:k], "runat") {
			return true
		}
		i++
	}
	return false
}

// maxTokenPrealloc bounds the token capacity allocated ahead of lexing.
const maxTokenPrealloc = 1 << 14

// tokenCapHint caps a size-based guess of a script's token count. The guess
// (one token per 6–8 bytes) fits ordinary code, but packed shells are mostly
// one huge literal: a 1 MiB payload would get ~130,000 zeroed tokens (9 MiB)
// for a few hundred real ones. Above the cap the slice grows by append.
func tokenCapHint(guess int) int {
	return min(guess, maxTokenPrealloc)
}

// containsFold reports strings.Contains(asciiLower(s), needle) for a needle
// without ASCII upper-case letters, without the lower-cased copy of s:
// asciiLower maps each byte on its own (lowerTable), so s[i:] lowers to a
// string starting with needle exactly when lowerTable[s[i+j]] == needle[j]
// for every j.
func containsFold(s, needle string) bool {
	if needle == "" {
		return true
	}
	c0 := needle[0]
	u0 := c0
	if c0 >= 'a' && c0 <= 'z' {
		u0 = c0 - 'a' + 'A'
	}
	last := len(s) - len(needle)
	for i := 0; i <= last; i++ {
		if c0 == u0 {
			// The first byte is not a letter: jump to it at memchr speed.
			j := strings.IndexByte(s[i:last+1], c0)
			if j < 0 {
				return false
			}
			i += j
		} else if b := s[i]; b != c0 && b != u0 {
			continue
		}
		if hasPrefixLower(s[i:], needle) {
			return true
		}
	}
	return false
}

// hasPrefixLower reports strings.HasPrefix(asciiLower(s), p) for p without
// ASCII upper-case letters.
func hasPrefixLower(s, p string) bool {
	if len(s) < len(p) {
		return false
	}
	for j := 0; j < len(p); j++ {
		if lowerTable[s[j]] != p[j] {
			return false
		}
	}
	return true
}

// intBufs recycles the per-token index slices (bracket pairs, statement
// ends) between analyses, like the token slices.
var intBufs = sync.Pool{New: func() any { return new([]int) }}

// getInts returns a pooled slice holder; its contents are arbitrary.
func getInts() *[]int { return intBufs.Get().(*[]int) }

// putInts returns used (a slice obtained through h) to the pool unless it
// is too big to keep; h may be nil (nothing to return).
func putInts(h *[]int, used []int) {
	if h == nil || cap(used) > maxPooledTokens {
		return
	}
	*h = used[:0]
	intBufs.Put(h)
}

// intsOfLen returns a slice of length n, reusing buf's storage when it is
// large enough. The elements are not cleared: callers write every one.
func intsOfLen(buf []int, n int) []int {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]int, n)
}

// hasPHPInput reports strings.Contains(s, "php://input"), anchored on the
// ':' (rare in long encoded literals, where the 'p' of a plain search
// matches every few dozen bytes) so that literals are passed over at
// memchr speed.
func hasPHPInput(s string) bool {
	for i := 0; ; {
		j := strings.IndexByte(s[i:], ':')
		if j < 0 {
			return false
		}
		i += j
		if i >= 3 && s[i-3:i] == "php" && strings.HasPrefix(s[i:], "://input") {
			return true
		}
		i++
	}
}

// mayBeShellPayload is the first test of shellPayload: it reports whether s
// contains "/bin/", "/dev/tcp", "nc -e", ".exe" or ".EXE", in three
// memchr-speed passes anchored on '/', '-' and '.' instead of five
// substring searches.
func mayBeShellPayload(s string) bool {
	for i := 0; ; {
		j := strings.IndexByte(s[i:], '/')
		if j < 0 {
			break
		}
		i += j + 1
		if rest := s[i:]; strings.HasPrefix(rest, "bin/") || strings.HasPrefix(rest, "dev/tcp") {
			return true
		}
	}
	for i := 0; ; {
		j := strings.IndexByte(s[i:], '-')
		if j < 0 {
			break
		}
		i += j
		if i >= 3 && s[i-3:i] == "nc " && i+1 < len(s) && s[i+1] == 'e' {
			return true
		}
		i++
	}
	for i := 0; ; {
		j := strings.IndexByte(s[i:], '.')
		if j < 0 {
			return false
		}
		i += j + 1
		if rest := s[i:]; strings.HasPrefix(rest, "exe") || strings.HasPrefix(rest, "EXE") {
			return true
		}
	}
}

// lowerBufs recycles the buffers of asciiLowerPooled: the lower-cased copy
// of each analysed page was the largest single allocation of analysis.
var lowerBufs sync.Pool // *[]byte

// maxPooledLower is the largest lower-casing buffer kept for reuse.
const maxPooledLower = 4 << 20

// asciiLowerPooled returns asciiLower(s), built in a pooled buffer when s
// has upper-case letters. The string is valid until releaseLower(h); the
// caller must not keep it, or strings sharing its bytes, after that. h is
// nil when s is returned itself.
func asciiLowerPooled(s string) (string, *[]byte) {
	i := 0
	for i < len(s) && !(s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s, nil
	}
	h, _ := lowerBufs.Get().(*[]byte)
	if h == nil {
		h = new([]byte)
	}
	var b []byte
	if cap(*h) >= len(s) {
		b = (*h)[:len(s)]
		copy(b[:i], s[:i])
	} else {
		b = []byte(s) // not zeroed first
	}
	lowerFrom(b, s, i)
	*h = b
	return bytesString(b), h
}

// lowerFrom sets b[j] = lowerTable[s[j]] for j >= i (len(b) == len(s)),
// eight bytes at a time: in each byte of a word below 0x80, adding
// 0x80-'A' sets the top bit from 'A' up and adding 0x7f-'Z' sets it above
// 'Z', so their difference marks exactly 'A'..'Z', whose 0x20 bit is then
// set. Bytes from 0x80 up are left alone, as lowerTable does. No byte's
// sum carries into the next (each addend is below 0x80 and so is the
// masked byte).
func lowerFrom(b []byte, s string, i int) {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		low7 := w &^ high
		geA := low7 + ones*(0x80-'A')
		gtZ := low7 + ones*(0x7f-'Z')
		upper := (geA &^ gtZ) & high &^ w
		binary.LittleEndian.PutUint64(b[i:], w|upper>>2)
	}
	for ; i < len(s); i++ {
		b[i] = lowerTable[s[i]]
	}
}

// releaseLower returns the buffer of asciiLowerPooled to the pool.
func releaseLower(h *[]byte) {
	if h == nil || cap(*h) > maxPooledLower {
		return
	}
	lowerBufs.Put(h)
}
