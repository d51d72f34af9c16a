// Package rules holds Vigil's shipped detection rules: YAML rule files
// (conditions in CEL over internal/event fields, ATT&CK IDs, responses and
// their own test events) and the IOC lists they look up with ioc().
//
// The files are embedded so the agent and `vigil rules` carry them without
// a file system; internal/detect loads them from FS. rules/README.md is the
// catalogue of rule IDs, which are stable: alerts and allow-lists refer to
// them.
package rules

import "embed"

// FS holds every rule file (*.yaml) and IOC list (ioc/*.txt).
//
//go:embed *.yaml ioc/*.txt
var FS embed.FS
