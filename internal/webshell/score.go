package webshell

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Scoring
//
// Every observation is a signal with an ID (VGL-WEBSHELL-<LANG>-<NAME>) and a
// weight in [0,1] read as "the probability that this signal alone means a web
// shell". Signals with the same ID count once (the strongest). The file score
// is the noisy-OR of the remaining weights:
//
//	score = 1 - Π (1 - w_i)
//
// so one strong signal (request input reaching an eval or exec sink, w ≥ 0.9)
// is enough, while weak signals (error suppression, long encoded blobs,
// reconnaissance calls) only add up to a verdict when several agree.
// The weights are the constants below; each is documented where it is used.
const (
	wInputCode     = 0.97 // request input reaches eval/assert/create_function/preg_replace /e/callback
	wInputExec     = 0.95 // request input reaches an OS command sink
	wInputFunc     = 0.95 // the name of a called function comes from the request
	wDynSinkName   = 0.80 // a sink's name is assembled from pieces and called
	wCallbackSink  = 0.60 // a code/command function (assert, system, ...) passed as a callback
	wComputedCall  = 0.60 // a function name assembled at run time is called with request data
	wObfEval       = 0.80 // eval of a constant decoded through base64/gzinflate/rot13/...
	wInputInclude  = 0.80 // include/require of a request-controlled path or php://input / data:
	wClassLoad     = 0.90 // JSP/.NET: class/assembly bytes from the request are loaded
	wCryptoLoader  = 0.95 // cipher + defineClass/Assembly.Load (Behinder, Godzilla)
	wToolkit       = 0.60 // command exec + file manager + db client/upload in one file
	wExecCoOccur   = 0.75 // JSP/ASP: command execution and request input in one small page
	wRemoteEval    = 0.55 // eval of content fetched at run time
	wEvalDecoded   = 0.60 // eval of a value decoded at run time (base64/gzinflate/... of a variable)
	wReverseShell  = 0.55 // literal (or decoded literal) holding a reverse/bind shell or shell spawn
	wEmbeddedExe   = 0.45 // base64 literal decoding to an ELF/PE executable
	wExecFallback  = 0.45 // tries several command sinks in turn (system, exec, passthru, ...)
	wExecWrapper   = 0.35 // a function runs its parameter as a command or code
	wIndirect      = 0.50 // sink fed by a lookup keyed by input, or a never-assigned (register_globals) variable
	wDecodedNames  = 0.50 // PHP: many variable names computed by the file's own decoder function
	wInputWrite    = 0.55 // request input chooses both the path and content of a write
	wUploadPath    = 0.35 // uploaded file stored under a request-chosen name
	wInputDB       = 0.75 // request input chooses a database connection (SQL client for any server)
	wInputConnect  = 0.55 // socket to a request-named host and port, or mail() relaying request data
	wFileBrowser   = 0.60 // request input chooses a directory to list and a file to open/delete
	wFileManager   = 0.35 // JSP/ASP: directory listing + delete/write driven by request
	wUploadSelfDir = 0.25 // upload stored under its client name next to the page, or at a path wholly from the request
	wDropExec      = 0.45 // ASP: the page writes a file and runs it through a shell object
	wInputAccount  = 0.60 // ASP/ASPX: request input names a Windows account created or changed through ADSI
	wInputDeser    = 0.60 // JSP/ASPX: request input deserialized by a type-embedding formatter
	wInputIncludeP = 0.30 // include of input behind a literal prefix (LFI, not necessarily a shell)
	wEvalDynamic   = 0.25 // eval of a non-constant value we cannot trace
	wExecCap       = 0.20 // command sink with a non-constant argument
	wEntropy       = 0.20 // long high-entropy string literal
	wBase64Blob    = 0.15 // huge base64 literal
	wRecon         = 0.10 // safe_mode / disable_functions / uname probing
	wSuppressed    = 0.10 // @ error suppression right on a dangerous sink
	wLongLine      = 0.10 // very long code line (packed / minified payload)
	wDecodedLayer  = 0.15 // code found inside a decoded layer
)

const (
	maxEvidence    = 8
	maxEvidenceLen = 160
)

type signal struct {
	id   string
	w    float64
	why  string
	snip string
}

type scorer struct {
	lang string
	sigs map[string]signal
	// notes are evidence lines that are not signals (e.g. "analysis capped").
	notes []string
	// decided, when set, is raised once the score reaches decisive (see
	// state.decided); the analysis then stops.
	decided *bool
}

func newScorer(lang string) *scorer {
	return &scorer{lang: lang, sigs: make(map[string]signal)}
}

// add records a signal; name is the part after VGL-WEBSHELL- ("PHP-INPUT-EVAL").
func (s *scorer) add(name string, w float64, why, snip string) {
	id := "VGL-WEBSHELL-" + name
	if old, ok := s.sigs[id]; ok && old.w >= w {
		return
	}
	s.sigs[id] = signal{id: id, w: w, why: why, snip: snip}
	s.checkDecided()
}

// merge takes the signals of a nested (decoded) analysis.
func (s *scorer) merge(o *scorer, prefix string) {
	for _, sg := range o.sigs {
		if old, ok := s.sigs[sg.id]; ok && old.w >= sg.w {
			continue
		}
		sg.why = prefix + sg.why
		s.sigs[sg.id] = sg
	}
	s.checkDecided()
}

// noDecisiveStop disables stopping at a decisive score (tests compare
// both ways).
var noDecisiveStop bool

// checkDecided raises the decided flag when the score has reached
// decisive. Signals only add to a score (noisy-OR of the strongest weight
// per ID), so the verdict of a complete analysis would be the same, and its
// score at most 1-decisive higher.
func (s *scorer) checkDecided() {
	if s.decided != nil && !*s.decided && !noDecisiveStop && s.score() >= decisive {
		*s.decided = true
	}
}

// score combines the signal weights as independent evidence. The product
// is taken in ascending weight order, so that the rounding of the result
// does not depend on map iteration order.
func (s *scorer) score() float64 {
	var buf [16]float64
	ws := buf[:0]
	for _, sg := range s.sigs {
		ws = append(ws, sg.w)
	}
	slices.Sort(ws)
	p := 1.0
	for _, w := range ws {
		p *= 1 - w
	}
	return 1 - p
}

func (s *scorer) result() Result {
	r := Result{Lang: s.lang, Score: s.score()}
	list := make([]signal, 0, len(s.sigs))
	for _, sg := range s.sigs {
		list = append(list, sg)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].w != list[j].w {
			return list[i].w > list[j].w
		}
		return list[i].id < list[j].id
	})
	if len(list) > 0 {
		r.Rule = list[0].id
	}
	for _, n := range s.notes {
		if len(r.Evidence) < maxEvidence {
			r.Evidence = append(r.Evidence, clip(n))
		}
	}
	for _, sg := range list {
		if len(r.Evidence) >= maxEvidence {
			break
		}
		line := fmt.Sprintf("%s (%.2f): %s", sg.id, sg.w, sg.why)
		if sg.snip != "" {
			line += ": " + sg.snip
		}
		r.Evidence = append(r.Evidence, clip(line))
	}
	return r
}

// clip shortens s to maxEvidenceLen bytes on a rune boundary, replacing
// control characters and invalid UTF-8.
func clip(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > maxEvidenceLen-3 {
			b.WriteString("...")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// snippet returns a short single-line excerpt of src around byte offset pos.
func snippet(src string, pos int) string {
	if pos < 0 || pos > len(src) {
		return ""
	}
	start := pos
	for start > 0 && pos-start < 40 && src[start-1] != '\n' {
		start--
	}
	end := pos
	for end < len(src) && end-pos < 80 && src[end] != '\n' {
		end++
	}
	return strings.Join(strings.Fields(src[start:end]), " ")
}
