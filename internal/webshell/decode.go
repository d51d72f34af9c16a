package webshell

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

// maxDecoded caps the output of any single decoding step, so a
// decompression bomb or a huge literal costs at most this much memory.
const maxDecoded = 1 << 20

var errTooBig = errors.New("decoded output exceeds cap")

// decodeBase64 decodes like PHP's non-strict base64_decode: characters
// outside the alphabet are skipped and missing padding is tolerated.
func decodeBase64(s string) (string, bool) {
	var buf []byte
	if end, ok := plainBase64(s); ok {
		// Already clean: cleaning would copy s[:end] unchanged. Decode
		// only reads buf.
		buf = unsafe.Slice(unsafe.StringData(s), end)
	} else {
		buf = make([]byte, len(s))
		n := 0
		for i := 0; i < len(s); i++ {
			m := base64Clean[s[i]]
			buf[n] = m // n <= i < len(buf)
			if m != 0 {
				n++
			}
		}
		buf = buf[:n]
	}
	if len(buf)%4 == 1 {
		buf = buf[:len(buf)-1]
	}
	if len(buf) == 0 {
		return "", false
	}
	if base64.RawStdEncoding.DecodedLen(len(buf)) > maxDecoded {
		return "", false
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(buf)))
	n, err := base64.RawStdEncoding.Decode(out, buf)
	if err != nil {
		return "", false
	}
	return bytesString(out[:n]), true // out is not used again
}

// plainBase64 reports whether s is standard-alphabet base64 followed only
// by '=' padding, and where the padding starts: then the cleaned input
// decodeBase64 works on is s[:end] itself.
func plainBase64(s string) (end int, ok bool) {
	end = len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	for i := 0; i < end; i++ {
		if c := s[i]; base64Clean[c] != c || c == 0 {
			return 0, false
		}
	}
	return end, true
}

// base64Clean maps each byte to the standard-alphabet byte it stands for
// in PHP's lenient decoder (URL-safe '-' and '_' included), or 0 when it is
// skipped.
var base64Clean = func() (t [256]byte) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = c
	}
	t['-'], t['_'] = '+', '/'
	return t
}()

// readCapped reads r to EOF or to maxDecoded bytes, whichever comes first.
// hint is the expected output size; the buffer starts there (within the cap)
// rather than growing from a few hundred bytes by doubling.
func readCapped(r io.Reader, hint int) (string, error) {
	buf := make([]byte, 0, min(max(hint, 512), maxDecoded+1))
	for {
		if len(buf) > maxDecoded {
			return "", errTooBig
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(len(buf), maxDecoded+1-len(buf)))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), maxDecoded+1)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			if len(buf) == 0 {
				return "", err
			}
			// A truncated stream still yields what was decoded, as PHP
			// would fail; we keep the prefix because it is what an analyst
			// wants to see.
			break
		}
	}
	if len(buf) > maxDecoded {
		return "", errTooBig
	}
	return bytesString(buf), nil // buf is not used again
}

// Decompressors are recycled: each holds a 32 KiB window and Huffman
// tables, and allocating them per decoded literal was a visible share of
// analysis time on packed shells. Reset makes a pooled reader behave as a
// new one.
var (
	flatePool sync.Pool // io.ReadCloser implementing flate.Resetter
	zlibPool  sync.Pool // io.ReadCloser implementing zlib.Resetter
)

// noInput is an empty, stateless input that pooled decompressors are reset
// to, so that the pool keeps no reference to the last analysed content. It
// is a flate.Reader (ReadByte), so Reset wraps it in no buffer.
type noInput struct{}

func (noInput) Read([]byte) (int, error) { return 0, io.EOF }
func (noInput) ReadByte() (byte, error)  { return 0, io.EOF }

// releaseZlib returns a zlib reader to the pool after pointing it, and the
// DEFLATE reader inside it, at a bare stream header: only a header that
// parses makes zlib reset its inner reader too.
func releaseZlib(r io.ReadCloser) {
	r.(zlib.Resetter).Reset(strings.NewReader("\x78\x9c"), nil)
	zlibPool.Put(r)
}

// inflateHint guesses the size of what n compressed bytes inflate to:
// packed PHP typically compresses three- to fourfold.
func inflateHint(n int) int { return 4 * n }

// decodeInflate is gzinflate: raw DEFLATE.
func decodeInflate(s string) (string, bool) {
	sr := strings.NewReader(s)
	fr, _ := flatePool.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(sr)
	} else if err := fr.(flate.Resetter).Reset(sr, nil); err != nil {
		fr = flate.NewReader(sr)
	}
	out, err := readCapped(fr, inflateHint(len(s)))
	fr.(flate.Resetter).Reset(noInput{}, nil) // drop the reference to s
	flatePool.Put(fr)
	return out, err == nil && out != ""
}

// decodeZlib is gzuncompress: zlib-wrapped DEFLATE.
func decodeZlib(s string) (string, bool) {
	sr := strings.NewReader(s)
	var r io.ReadCloser
	var err error
	if zr, _ := zlibPool.Get().(io.ReadCloser); zr != nil {
		r = zr
		if err = zr.(zlib.Resetter).Reset(sr, nil); err != nil {
			releaseZlib(zr)
			return "", false
		}
	} else if r, err = zlib.NewReader(sr); err != nil {
		return "", false
	}
	out, err := readCapped(r, inflateHint(len(s)))
	releaseZlib(r)
	return out, err == nil && out != ""
}

// decodeGzip is gzdecode: gzip container.
func decodeGzip(s string) (string, bool) {
	r, err := gzip.NewReader(strings.NewReader(s))
	if err != nil {
		return "", false
	}
	r.Multistream(false)
	out, err := readCapped(r, inflateHint(len(s)))
	return out, err == nil && out != ""
}

// rot13 is str_rot13.
func rot13(s string) string {
	b := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		b[i] = rot13Table[s[i]]
	}
	return bytesString(b) // b is not used again
}

// rot13Table maps each ASCII letter to the letter 13 places on (wrapping
// within its case) and every other byte to itself.
var rot13Table = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 0; c < 26; c++ {
		t['a'+c] = byte('a' + (c+13)%26)
		t['A'+c] = byte('A' + (c+13)%26)
	}
	return t
}()

// reverse is strrev (bytewise, as PHP does).
func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// decodeHex is hex2bin and pack('H*', ...). An odd trailing nibble is dropped.
func decodeHex(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s)%2 == 1 {
		s = s[:len(s)-1]
	}
	out, err := hex.DecodeString(s)
	if err != nil || len(out) == 0 {
		return "", false
	}
	return string(out), true
}

// decodeURL is urldecode ("+" is a space) or rawurldecode.
func decodeURL(s string, plus bool) (string, bool) {
	if plus {
		out, err := url.QueryUnescape(s)
		return out, err == nil
	}
	out, err := url.PathUnescape(s)
	return out, err == nil
}

// decodeJavaUnicode replaces Java \uXXXX escapes (any number of 'u's), which
// javac applies before tokenizing, so they may hide whole statements.
func decodeJavaUnicode(s string) string {
	if !strings.Contains(s, `\u`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == 'u' {
			j := i + 1
			for j < len(s) && s[j] == 'u' {
				j++
			}
			if j+4 <= len(s) {
				if v, ok := hexVal(s[j : j+4]); ok {
					b.WriteRune(rune(v))
					i = j + 3
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func hexVal(s string) (int, bool) {
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v*16 + int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v*16 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v*16 + int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// looksLikeCode reports whether a decoded layer plausibly holds script code
// worth analysing again (rather than binary data or plain text).
func looksLikeCode(s string) bool {
	if len(s) < 4 {
		return false
	}
	n := min(len(s), 4096)
	printable := 0
	for i := 0; i < n; i++ {
		c := s[i]
		if c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f) || c >= 0x80 {
			printable++
		}
	}
	if printable*10 < n*9 {
		return false
	}
	return strings.ContainsAny(s, "($;") || strings.Contains(s, "<?")
}

// entropy returns the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c == 0 {
			continue
		}
		p := float64(c) / n
		h -= p * log2(p)
	}
	return h
}

// isBase64Blob reports whether s is long and almost entirely base64 alphabet.
func isBase64Blob(s string, minLen int) bool {
	if len(s) < minLen {
		return false
	}
	// Stop once more than 1% of the bytes are outside the alphabet,
	// counting eight bytes per test.
	limit := (len(s)+99)/100 - 1
	bad, i := 0, 0
	for ; i+8 <= len(s); i += 8 {
		bad += int(notBase64[s[i]] + notBase64[s[i+1]] + notBase64[s[i+2]] + notBase64[s[i+3]] +
			notBase64[s[i+4]] + notBase64[s[i+5]] + notBase64[s[i+6]] + notBase64[s[i+7]])
		if bad > limit {
			return false
		}
	}
	for ; i < len(s); i++ {
		bad += int(notBase64[s[i]])
	}
	return bad <= limit
}

// notBase64 is 1 for the bytes a base64 blob may not contain, 0 for the
// alphabet, padding and line breaks.
var notBase64 = func() (t [256]uint8) {
	for i := range t {
		t[i] = 1
	}
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n") {
		t[c] = 0
	}
	return t
}()

func log2(x float64) float64 { return math.Log2(x) }

// asciiLower lower-cases ASCII letters only, so byte offsets stay valid.
// It returns s itself when there is nothing to change.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && !(s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	// One copy (not zeroed first), lowered in place, handed out as the
	// string.
	b := []byte(s)
	lowerFrom(b, s, i)
	return bytesString(b)
}

// lowerTable maps ASCII upper-case letters to lower case and every other
// byte to itself.
var lowerTable = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c) + 32
	}
	return t
}()
