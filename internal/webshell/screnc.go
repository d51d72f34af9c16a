package webshell

import (
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// Windows Script Encoder (VBScript.Encode / JScript.Encode, "#@~^...^#~@")
// decoding. The substitution table and the 64-entry table selector are the
// published constants of the format (documented by MrBrownstone's scrdec and
// Didier Stevens' public-domain decode-vbe); the Go code is ours.

// screncTable holds, for each byte 9..127, its decoding under the three
// substitution tables (3 bytes per input byte).
var screncTable = mustHex("576E7B4A4C410B0B0B0C0C0C4A4C410E0E0E0F0F0F1010101111111212121313131414141515151616161717171818181919191A1A1A1B1B1B1C1C1C1D1D1D1E1E1E1F1F1F2E2D324775307A522156602942715B6A5E382F4933265C3D496258417D3A3429353236655B2039767C5C727A56437F73386B6639634E703345452B6B6868627151594F667809765E62317D44644A23546D7543714A4C417E3A604A4C415E7E53404C407745424A2C27612A485D74722227754B37316F44374E794D3B59524C2F22506F5467266A2A72477D6A6474392D547B202B3F7F2D382E2C774C30675D6E537E6B476C66346F357879255D742130436423264D5A76525B25636C243F482B7B5528787023296941282E34734C0959212A3324447F4E3F6D507755093B5356557C73693A35615F6163654B50465867583B5131574969224F6C6D465A4D6848257C2728365C46703D4A6E24327A79412F373D5F605F4B514F5A20422C366557")

// screncPick selects the table (0..2) for the n-th encoded ASCII byte, mod 64.
const screncPick = "0120121221210212021200122102122100212120200120210212001220012021"

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err) // constant input
	}
	return b
}

// decodeScrenc replaces every encoded block in s with its decoded text. It
// reports whether any block was found. Output is capped at maxDecoded.
func decodeScrenc(s string) (string, bool) {
	const start, end = "#@~^", "^#~@"
	if !strings.Contains(s, start) {
		return s, false
	}
	var b strings.Builder
	found := false
	for {
		i := strings.Index(s, start)
		if i < 0 || b.Len() > maxDecoded {
			b.WriteString(s[:min(len(s), max(0, maxDecoded-b.Len()))])
			break
		}
		j := strings.Index(s[i+len(start):], end)
		if j < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		body := s[i+len(start) : i+len(start)+j]
		// 8 bytes of length header ("XXXXXX==") and 8 of checksum trailer.
		if len(body) >= 16 {
			body = body[8 : len(body)-8]
		}
		b.WriteString(screncBlock(body))
		found = true
		s = s[i+len(start)+j+len(end):]
	}
	return b.String(), found
}

// screncBlock decodes the body of one encoded block. The encoder leaves
// non-ASCII characters as they are and does not count them in the position
// that selects the table. In a page saved in a double-byte code page (GBK,
// Big5, Shift_JIS, UHC) a character is a lead byte 0x81..0xFE and a trail
// byte that may be ASCII (0x40..0x7E); the pair is one character, copied
// and not counted. The code page is not recorded in the block, and a
// single-byte one (Windows-1254) has the same bytes, so when the body could
// be either, both readings are made and the one that reads more like
// script is kept.
func screncBlock(body string) string {
	single := screncDecode(body, false)
	if utf8.ValidString(body) || !hasASCIITrail(body) {
		return single
	}
	double := screncDecode(body, true)
	if scriptLikeness(double) > scriptLikeness(single) {
		return double
	}
	return single
}

// hasASCIITrail reports whether a byte 0x81..0xFE is followed by an ASCII
// byte 0x40..0x7E, the only case where the double-byte reading differs.
func hasASCIITrail(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if c := s[i]; c >= 0x81 && c <= 0xfe {
			if d := s[i+1]; d >= 0x40 && d <= 0x7e {
				return true
			}
			i++
		}
	}
	return false
}

// scriptKeywords are words common in VBScript and JScript page code.
var scriptKeywords = []string{"end if", "then", "response.", "request", "dim ", "set ", "function", "end sub", "next", "else", "var ", "return", "server.", "createobject", "&vbcrlf"}

// scriptLikeness counts script keywords in s: a body decoded out of step
// with the encoder turns to noise after the first misread character.
func scriptLikeness(s string) int {
	low := asciiLower(s)
	n := 0
	for _, k := range scriptKeywords {
		n += strings.Count(low, k)
	}
	return n
}

// screncDecode decodes body; with dbcs, a byte 0x81..0xFE and the byte after
// it are one character, copied and not counted.
func screncDecode(body string, dbcs bool) string {
	out := make([]byte, 0, len(body))
	idx := -1
	for i := 0; i < len(body) && len(out) < maxDecoded; i++ {
		c := body[i]
		if dbcs && c >= 0x81 && c <= 0xfe && i+1 < len(body) {
			out = append(out, c, body[i+1])
			i++
			continue
		}
		if c == '@' && i+1 < len(body) {
			switch body[i+1] {
			case '&':
				c = '\n'
			case '#':
				c = '\r'
			case '*':
				c = '>'
			case '!':
				c = '<'
			case '$':
				c = '@'
			default:
				out = append(out, c)
				continue
			}
			i++
		}
		if c < 128 {
			idx++
		}
		if (c == 9 || c > 31 && c < 128) && c != '<' && c != '>' && c != '@' {
			c = screncTable[(int(c)-9)*3+int(screncPick[idx%64]-'0')]
		}
		out = append(out, c)
	}
	return string(out)
}
