package webshell

// DefaultMaxBytes is how much of a file Analyze reads when Options.MaxBytes is zero.
const DefaultMaxBytes = 8 << 20

// Options tunes AnalyzeWith. The zero value is the default.
type Options struct {
	// MaxBytes caps how many leading bytes are analysed; 0 means DefaultMaxBytes.
	// Values above MaxSourceBytes count as MaxSourceBytes. When content is
	// longer, the Result notes it in Evidence.
	MaxBytes int
	// Cache, when set, shares the analysis of decoded payloads between
	// the files of a scan (see Cache). Results do not depend on it.
	Cache *Cache
}

// MaxSourceBytes is the largest MaxBytes honoured: token positions are
// 32-bit, and decoding (UTF-16, UTF-7) can grow a page by half, so sources
// stay below 2 GiB.
const MaxSourceBytes = 1 << 30

func (o Options) maxBytes() int {
	if o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return min(o.MaxBytes, MaxSourceBytes)
}
