package rules

import "embed"

// YARA holds the shipped YARA rules (yara/*.yar) and SHA-256 IOC lists
// (yara/*.sha256) that internal/malware scans files with; yara/README.md
// lists them.
//
//go:embed yara/*.yar yara/*.sha256
var YARA embed.FS
