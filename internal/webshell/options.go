package webshell

// DefaultMaxBytes is how much of a file Analyze reads when Options.MaxBytes is zero.
const DefaultMaxBytes = 8 << 20

// Options tunes AnalyzeWith. The zero value is the default.
type Options struct {
	// MaxBytes caps how many leading bytes are analysed; 0 means DefaultMaxBytes.
	// When content is longer, the Result notes it in Evidence.
	MaxBytes int
}

func (o Options) maxBytes() int {
	if o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}
