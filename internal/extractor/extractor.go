// Package extractor defines file extractors: plugins that read package
// records (and later other artifacts) out of files found on a host, in an
// image or in a source tree. The packages collector drives the OS
// extractors over a root; image and directory scans drive all of them.
package extractor

import (
	"context"
	"io"
	"io/fs"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Extractor reads inventory out of one file.
type Extractor interface {
	plugin.Plugin
	// FileRequired reports whether the file at path (slash-separated,
	// relative to the scan root, no leading slash) is one this extractor
	// reads. It must be cheap: it is called for every file of a walk.
	FileRequired(path string, info fs.FileInfo) bool
	// Extract reads the file. Malformed records are skipped and reported
	// through a *plugin.PartialError; the rest are still returned.
	Extract(ctx context.Context, in *ScanInput) (*inventory.Inventory, error)
}

// ScanInput is one file handed to an extractor.
type ScanInput struct {
	// FS is the scan root; Path is relative to it.
	FS   fs.FS
	Path string
	Info fs.FileInfo
	// Reader reads the file's contents.
	Reader io.Reader
	// RootPath is the scan root on the real filesystem, for extractors
	// whose libraries need a file path (rpm databases). It may be ""
	// when the root is not on disk; such extractors then copy Reader to
	// a temporary file.
	RootPath string
}
