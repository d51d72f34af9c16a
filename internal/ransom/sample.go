package ransom

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
)

// Entropy returns the Shannon entropy of b in bits per byte (0 to 8).
func Entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	n := float64(len(b))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// minSample is the smallest sample judged: fewer bytes cannot show
// whether content is random.
const minSample = 256

// entropyBias is how far below 8 bits random data of n bytes measures
// (the Miller–Madow correction, (K−1)/(2n ln 2) with K = 256), so that a
// short encrypted file is held to a fair threshold.
func entropyBias(n int) float64 { return 255 / (2 * float64(n) * math.Ln2) }

// magic is a known file format's signature at offset 0.
type magic struct {
	name string
	sig  []byte
}

// magics are formats whose content is legitimately high-entropy (archives,
// compressed media) or that announce themselves: content that starts with
// one of them is not taken for ciphertext. An encryptor can forge a
// header; the decoys and the old-header comparison in the guard cover
// that.
var magics = []magic{
	{"zip", []byte("PK\x03\x04")}, {"zip", []byte("PK\x05\x06")},
	{"gzip", []byte{0x1f, 0x8b}}, {"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0}}, {"bzip2", []byte("BZh")},
	{"7z", []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}}, {"rar", []byte("Rar!\x1a\x07")},
	{"lz4", []byte{0x04, 0x22, 0x4d, 0x18}},
	{"pdf", []byte("%PDF-")}, {"jpeg", []byte{0xff, 0xd8, 0xff}},
	{"png", []byte("\x89PNG\r\n\x1a\n")}, {"gif", []byte("GIF8")},
	{"webp", []byte("RIFF")}, {"ole", []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}},
	{"elf", []byte("\x7fELF")}, {"mp4", nil}, // mp4: "ftyp" at offset 4, below
	{"ogg", []byte("OggS")}, {"flac", []byte("fLaC")}, {"mp3", []byte("ID3")},
	{"sqlite", []byte("SQLite format 3\x00")}, {"age", []byte("age-encryption.org/v1")},
	{"pgp-armor", []byte("-----BEGIN PGP")}, {"woff", []byte("wOFF")}, {"woff2", []byte("wOF2")},
	{"mp3", []byte{0xff, 0xfb}}, {"mp3", []byte{0xff, 0xf3}}, {"mp3", []byte{0xff, 0xf2}},
	{"class", []byte{0xca, 0xfe, 0xba, 0xbe}}, {"matroska", []byte{0x1a, 0x45, 0xdf, 0xa3}},
	{"lzma", []byte{0x5d, 0x00, 0x00}}, {"luks", []byte("LUKS\xba\xbe")},
}

// Format names the known format b starts with, or "".
func Format(b []byte) string {
	for _, m := range magics {
		if m.sig == nil {
			if len(b) >= 8 && bytes.Equal(b[4:8], []byte("ftyp")) {
				return m.name
			}
			continue
		}
		if bytes.HasPrefix(b, m.sig) {
			return m.name
		}
	}
	return ""
}

// extFormat is the format a file extension promises.
var extFormat = map[string]string{
	".docx": "zip", ".xlsx": "zip", ".pptx": "zip", ".odt": "zip", ".ods": "zip", ".zip": "zip", ".jar": "zip",
	".gz": "gzip", ".tgz": "gzip", ".zst": "zstd", ".xz": "xz", ".bz2": "bzip2", ".7z": "7z", ".rar": "rar",
	".pdf": "pdf", ".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".gif": "gif", ".doc": "ole", ".xls": "ole",
	".mp4": "mp4", ".sqlite": "sqlite", ".db": "sqlite",
}

// Verdict is the judgement of a file's new content.
type Verdict struct {
	Entropy float64 `json:"entropy"`
	Format  string  `json:"format,omitempty"` // known format the content starts with
	// Mismatch: the extension (of the new or the original name) promises a
	// format the content no longer has.
	Mismatch bool `json:"mismatch,omitempty"`
	// Encrypted: high entropy and no known format, or a promised format lost.
	Encrypted bool `json:"encrypted"`
}

// Judge decides whether sample, the first bytes of a file's new content,
// looks encrypted. names are the file's names (new, then original) whose
// extensions say what format to expect; oldHead, when known, is the start
// of the file's content before the change.
func Judge(sample []byte, entropyMin float64, oldHead []byte, names ...string) Verdict {
	v := Verdict{Entropy: Entropy(sample), Format: Format(sample)}
	for _, n := range names {
		if want, ok := extFormat[strings.ToLower(filepath.Ext(n))]; ok && v.Format != want {
			v.Mismatch = true
		}
	}
	if len(oldHead) >= 4 && Format(oldHead) != "" && Format(oldHead) != v.Format {
		v.Mismatch = true
	}
	if len(sample) < minSample {
		return v
	}
	min := entropyMin
	if len(sample) < 4096 {
		min -= entropyBias(len(sample)) - entropyBias(4096)
	}
	high := v.Entropy >= min
	v.Encrypted = high && (v.Format == "" || v.Mismatch)
	return v
}
