// Package webshell judges whether a file's content is a web shell: server-side
// script (PHP, JSP/JSPX, ASP classic, ASPX) that lets a remote client run code,
// commands or file operations it supplies in the request.
//
// Analysis is done by content only; file names and extensions never decide.
package webshell

// Threshold is the score at or above which a Result is reported as a web shell.
const Threshold = 0.5

// Result is the verdict on one file's content.
type Result struct {
	Lang     string   // "php", "jsp", "asp", "aspx" or "" when no server-side code is found
	Score    float64  // 0..1; Webshell() is Score >= Threshold
	Rule     string   // ID of the strongest signal, e.g. "VGL-WEBSHELL-PHP-INPUT-EVAL"
	Evidence []string // short reasons with snippets (each ≤ 160 chars, at most 8)
}

// Webshell reports whether the score reaches Threshold.
func (r Result) Webshell() bool { return r.Score >= Threshold }

// Analyze judges content with the default options (analysis capped to the
// first DefaultMaxBytes bytes).
func Analyze(data []byte) Result {
	return AnalyzeWith(data, Options{})
}
