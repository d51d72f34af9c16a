package webshell

import (
	"strconv"
	"strings"
)

// Taint is a bit set: bit 63 means "comes from the request", bit 62 "comes
// from a file or the network at run time", bit 61 "went through a decoder",
// bit 60 "derived from request input by a function we do not know" (for
// example a lookup keyed by input, whose result the client does not choose),
// bits 0..59 mean "comes from
// parameter i of the enclosing function" (used to build function summaries).
const (
	inputBit  uint64 = 1 << 63
	remoteBit uint64 = 1 << 62
	decodeBit uint64 = 1 << 61 // passed through a decoding function
	weakBit   uint64 = 1 << 60 // request input seen only through an unknown function (a lookup)
	paramMask uint64 = weakBit - 1
	maxParams        = 60
)

type sinkKind uint8

const (
	sinkCode sinkKind = iota // eval-like: the argument is PHP code or a callable
	sinkExec                 // OS command
	sinkInclude
	sinkWrite // content written to a file
	nSinkKinds
)

// sinkSpec says which arguments of a built-in matter.
type sinkSpec struct {
	kind sinkKind
	args []int // argument indexes whose taint is checked; nil = all
	cb   bool  // the checked argument is a callable (name)
	last bool  // the checked argument is the last one (variadic functions)
}

var phpSinks = map[string]sinkSpec{
	"eval":                       {kind: sinkCode, args: []int{0}},
	"assert":                     {kind: sinkCode, args: []int{0}},
	"create_function":            {kind: sinkCode, args: []int{1}}, // the body
	"call_user_func":             {kind: sinkCode, args: []int{0}, cb: true},
	"call_user_func_array":       {kind: sinkCode, args: []int{0}, cb: true},
	"forward_static_call":        {kind: sinkCode, args: []int{0}, cb: true},
	"forward_static_call_array":  {kind: sinkCode, args: []int{0}, cb: true},
	"register_shutdown_function": {kind: sinkCode, args: []int{0}, cb: true},
	"register_tick_function":     {kind: sinkCode, args: []int{0}, cb: true},
	"header_register_callback":   {kind: sinkCode, args: []int{0}, cb: true},
	"set_error_handler":          {kind: sinkCode, args: []int{0}, cb: true},
	"set_exception_handler":      {kind: sinkCode, args: []int{0}, cb: true},
	"ob_start":                   {kind: sinkCode, args: []int{0}, cb: true},
	"array_map":                  {kind: sinkCode, args: []int{0}, cb: true},
	"array_filter":               {kind: sinkCode, args: []int{1}, cb: true},
	"array_walk":                 {kind: sinkCode, args: []int{1}, cb: true},
	"array_walk_recursive":       {kind: sinkCode, args: []int{1}, cb: true},
	"array_reduce":               {kind: sinkCode, args: []int{1}, cb: true},
	"array_diff_ukey":            {kind: sinkCode, last: true, cb: true},
	"array_intersect_ukey":       {kind: sinkCode, last: true, cb: true},
	"array_udiff":                {kind: sinkCode, args: []int{2}, cb: true},
	// The callable is the last argument of these variadic functions.
	"array_udiff_assoc":        {kind: sinkCode, last: true, cb: true},
	"array_udiff_uassoc":       {kind: sinkCode, last: true, cb: true},
	"array_uintersect":         {kind: sinkCode, last: true, cb: true},
	"array_uintersect_assoc":   {kind: sinkCode, last: true, cb: true},
	"array_uintersect_uassoc":  {kind: sinkCode, last: true, cb: true},
	"array_diff_uassoc":        {kind: sinkCode, last: true, cb: true},
	"array_intersect_uassoc":   {kind: sinkCode, last: true, cb: true},
	"usort":                    {kind: sinkCode, args: []int{1}, cb: true},
	"uasort":                   {kind: sinkCode, args: []int{1}, cb: true},
	"uksort":                   {kind: sinkCode, args: []int{1}, cb: true},
	"iterator_apply":           {kind: sinkCode, args: []int{1}, cb: true},
	"preg_replace_callback":    {kind: sinkCode, args: []int{1}, cb: true},
	"mb_ereg_replace_callback": {kind: sinkCode, args: []int{1}, cb: true},
	"system":                   {kind: sinkExec, args: []int{0}},
	"exec":                     {kind: sinkExec, args: []int{0}},
	"shell_exec":               {kind: sinkExec, args: []int{0}},
	"passthru":                 {kind: sinkExec, args: []int{0}},
	"popen":                    {kind: sinkExec, args: []int{0}},
	"proc_open":                {kind: sinkExec, args: []int{0}},
	"pcntl_exec":               {kind: sinkExec, args: []int{0, 1}},
	"expect_popen":             {kind: sinkExec, args: []int{0}},
	"file_put_contents":        {kind: sinkWrite, args: []int{0, 1}},
	"fwrite":                   {kind: sinkWrite, args: []int{1}},
	"fputs":                    {kind: sinkWrite, args: []int{1}},
	"move_uploaded_file":       {kind: sinkWrite, args: []int{1}},
	"copy":                     {kind: sinkWrite, args: []int{0, 1}},
}

// dangerousNames are functions whose name, used as a callable or as a
// variable function, turns data into code or commands.
var dangerousNames = map[string]sinkKind{
	"eval": sinkCode, "assert": sinkCode, "create_function": sinkCode, "call_user_func": sinkCode,
	"call_user_func_array": sinkCode, "preg_replace": sinkCode, "array_map": sinkCode,
	"system": sinkExec, "exec": sinkExec, "shell_exec": sinkExec, "passthru": sinkExec,
	"popen": sinkExec, "proc_open": sinkExec, "pcntl_exec": sinkExec,
	"base64_decode": sinkCode, "gzinflate": sinkCode, "str_rot13": sinkCode, "file_put_contents": sinkWrite,
}

// Functions whose result carries none of their arguments' taint.
var phpSanitizers = map[string]bool{
	"intval": true, "floatval": true, "boolval": true, "abs": true, "count": true, "sizeof": true,
	"strlen": true, "isset": true, "empty": true, "md5": true, "sha1": true, "crc32": true,
	"hash": true, "escapeshellarg": true, "is_numeric": true, "is_array": true, "is_string": true,
	"in_array": true, "array_key_exists": true, "preg_match": true, "strpos": true, "stripos": true,
	"file_exists": true, "is_file": true, "is_dir": true, "function_exists": true, "round": true,
	"ctype_digit": true, "ctype_alnum": true, "filter_var": true, "htmlspecialchars": true,
	"htmlentities": true, "json_encode": true, "strcmp": true, "password_verify": true,
	"hash_equals": true, "sanitize_text_field": true, "sanitize_key": true, "absint": true,
	"preg_quote": true, "esc_attr": true, "esc_html": true, "esc_url": true, "wp_verify_nonce": true, "max": true, "min": true,
}

// Variables that carry request data.
var phpInputVars = map[string]bool{
	"_GET": true, "_POST": true, "_REQUEST": true, "_COOKIE": true, "_FILES": true,
	"HTTP_GET_VARS": true, "HTTP_POST_VARS": true, "HTTP_COOKIE_VARS": true,
	"HTTP_POST_FILES": true, "HTTP_RAW_POST_DATA": true,
}

// Functions returning request data.
var phpInputFuncs = map[string]bool{
	"getallheaders": true, "apache_request_headers": true, "get_defined_vars": true,
	"filter_input": true, "filter_input_array": true, "import_request_variables": true,
}

// Functions returning data read at run time from a file, stream or URL.
var phpRemoteFuncs = map[string]bool{
	"file_get_contents": true, "curl_exec": true, "fread": true, "fgets": true,
	"stream_get_contents": true, "file": true, "readfile": false, "gzfile": true,
	"socket_read": true, "stream_get_line": true, "fgetc": true,
}

// serverInput reports whether $_SERVER[index] is controlled by the client.
func serverInput(index string) bool {
	switch {
	case strings.HasPrefix(index, "HTTP_"):
		return true
	case index == "QUERY_STRING", index == "REQUEST_URI", index == "PATH_INFO", index == "argv":
		return true
	}
	return false
}

type phpFunc struct {
	name   string
	params []string
	body   [2]int // token range inside the braces
	sinks  [nSinkKinds]uint64
	ret    uint64
	// callee: parameters the body calls as functions; calleeIn: those
	// called with request input as an argument.
	callee, calleeIn uint64
	// decoder: the body decodes its input (a decoding built-in, or
	// characters rebuilt with chr() from ord() arithmetic), so its result
	// is a decoded value.
	decoder bool
	// writePath, writeData: parameters choosing the path and the content
	// of a file write in the body.
	writePath, writeData uint64
	// dbHost: parameters naming the server of a database connection.
	dbHost uint64
}

type constVal struct {
	s   string
	dec bool // went through a decoding function
}

type phpScope struct {
	taint     map[string]uint64
	val       map[string]constVal
	arrName   map[string]string // array variables holding a dangerous function name
	inputFile map[string]bool   // handles from fopen() of a request-chosen path
	prefixed  map[string]bool   // values that start with a fixed literal (a path prefix)
	extracted bool
	fn        *phpFunc
	// words holds, for a foreach value variable, the constant names it
	// iterates over (foreach (explode(" ", "a b") as $v)), so $$v = ...
	// assigns each of them.
	words map[string][]string
	// arr holds the constant elements of arrays ($a = array('k' => 'v'),
	// $a['k'] = 'v'), keyed by array name then element key.
	arr map[string]map[string]constVal
}

func newScope(fn *phpFunc) *phpScope {
	return &phpScope{taint: map[string]uint64{}, val: map[string]constVal{}, arrName: map[string]string{}, inputFile: map[string]bool{}, prefixed: map[string]bool{}, fn: fn}
}

// caps are capabilities seen anywhere in the file, for structural traits.
type phpCaps struct {
	exec, dirList, fileMod, db, upload, input bool
	listIn, accessIn                          bool // request-chosen path listed / opened
	recon, execNames, probed                  map[string]bool
	// sockVars are variables holding a network socket; sockRead: data is
	// read from one; execRemote: a command sink runs data read at run time.
	sockVars             map[string]bool
	sockRead, execRemote bool
	// dynVarRead: a variable variable whose name is assembled or decoded
	// at run time is read ($$n with n built from pieces).
	dynVarRead bool
	// weakFiles are handles fopen()ed at a path held in a never-assigned
	// variable; weakWrite / weakDelete: a file is written / deleted at a
	// path and with content held in never-assigned variables (set by the
	// request under register_globals).
	weakFiles             map[string]bool
	weakWrite, weakDelete bool
	// pipeVars are variables holding the input pipe(s) of a process
	// started by proc_open() or popen(..., "w"): what is written to them
	// is a command for that process.
	pipeVars map[string]bool
	// remoteFiles are fixed paths a file fetched at run time is saved to
	// (copy("http://...", "x.php")).
	remoteFiles map[string]bool
}

type phpAn struct {
	comShell bool // a COM WScript.Shell / Shell.Application object is created
	// pre collects what the summary rounds find. Their taint is still
	// growing, so a sink may be seen with less of it than the final pass
	// gives (a weaker signal in place of a stronger one): pre is dropped
	// unless it reaches decisive, in which case it is the verdict and the
	// analysis stops (see analyzePHP).
	pre *scorer
	// escNoSanitize makes escapeshellarg() keep taint (its result still
	// names a whole command when passed as one).
	escNoSanitize bool
	src           string
	toks          []tok
	match         []int
	funcs         map[string]*phpFunc
	// funcList holds the values of funcs in definition order: passes over
	// all functions walk it, not the map, so that which of two equally
	// weighted findings is reported first does not depend on map order.
	funcList []*phpFunc
	// others are later definitions of names already in funcs (methods of
	// several classes sharing a name); only their database-connection
	// summaries are used, for method calls on objects of unknown class.
	others []*phpFunc
	// constTaint is the taint of constants define()d from request input;
	// constVals the values of constants define()d as constants.
	constTaint map[string]uint64
	constVals  map[string]constVal
	// computedNames holds the variables computedName reports (scanned
	// once per file, on first use).
	computedNames map[string]bool
	// arrayLits maps a variable to the array literal first assigned to it
	// (see arrayLiteralOf).
	arrayLits map[string]int
	// closureVars maps a variable to the closure ("function"/"fn" token)
	// last assigned to it; closureDepth bounds nested closure re-runs.
	closureVars  map[string]int
	closureDepth int
	closureRuns  map[int]bool
	props        map[string]uint64
	sc           *scorer
	final        bool
	// log records the carried-over state a summary round reads (nil in
	// the final pass); see roundLog.
	log  *roundLog
	caps phpCaps
	st   *state
	// assigned holds every variable name assigned, bound or declared
	// anywhere in the file.
	assigned map[string]bool
	// argsMemo remembers recent results of args, by the position of the
	// '(': one call's arguments are split again by each check of it
	// (capability, sinks, taint) and in every round. Tokens and brackets
	// do not change during an analysis, and no caller modifies a result.
	argsMemo [16]argsEntry
	// funcsCollected is set once funcs holds every function: from then
	// on callClass may keep what it computes in the tokens.
	funcsCollected bool
}

// state is shared by an analysis and its nested (decoded) analyses.
type state struct {
	budget  int // remaining work units; analysis stops at zero
	decoded int // bytes produced by decoders so far
	depth   int
	capped  bool
	// decided is raised when the analysis's score reaches decisive: every
	// loop stops at its next spend, as at the end of the budget, but the
	// result is complete as a verdict (not capped).
	decided bool
	// rounds and roundsSkipped count the summary rounds run and skipped
	// as settled (for tests).
	rounds, roundsSkipped int
	// decodes remembers decoder results: the analysis passes over a file
	// several times (function summaries, then the final pass) and would
	// otherwise decode, and count, the same literal on every pass.
	decodes map[decodeKey]decodeRes
	// layers remembers the analysis of each decoded layer, so a payload
	// reached from several places is analysed once.
	layers map[string]*scorer
	// cache is the scan's memory of payload analyses across files (nil:
	// none); see Cache.
	cache *Cache
}

type decodeKey struct{ fn, in string }

type decodeRes struct {
	out string
	ok  bool
}

// decode runs fn (a decoder named name) on in once per state and charges
// the output to the decode cap.
func (st *state) decode(name, in string, fn func(string) (string, bool)) (string, bool) {
	k := decodeKey{name, in}
	if r, ok := st.decodes[k]; ok {
		return r.out, r.ok
	}
	out, ok := st.decodeShared(name, in, fn)
	if ok {
		st.decoded += len(out)
		if st.decoded > maxDecodedTotal {
			st.capped = true
			out, ok = "", false
		}
	}
	if st.decodes == nil {
		st.decodes = map[decodeKey]decodeRes{}
	}
	st.decodes[k] = decodeRes{out, ok}
	return out, ok
}

// decodeShared runs fn on in, or takes its output from the scan's Cache.
func (st *state) decodeShared(name, in string, fn func(string) (string, bool)) (string, bool) {
	dname, ok := decompressor(name)
	if st.cache == nil || len(in) < minCachedDecode || !ok {
		return fn(in)
	}
	// The key holds dname, a constant: name is a slice of the analysed
	// source, which may be the caller's reused buffer.
	k := decodeSum{dname, st.cache.digest(in)}
	if r, ok := st.cache.getDecode(k); ok {
		return r.out, r.ok
	}
	out, ok := fn(in)
	// The Cache keeps a copy: the output may be (part of) the input, or
	// lie in a larger buffer than its length, which the Cache would keep
	// alive uncounted.
	st.cache.putDecode(k, decodeRes{strings.Clone(out), ok})
	return out, ok
}

// decompressors are the PHP decoders that inflate their input. Only their
// outputs are shared through the Cache: inflating costs several times
// what hashing the input does, while base64, hex and URL decoding cost
// about as much as the hashing and would fill the Cache with large outputs
// to save little.
var decompressors = [...]string{"gzinflate", "gzuncompress", "gzdecode"}

// decompressor returns the entry of decompressors equal to name, if any.
func decompressor(name string) (string, bool) {
	for _, d := range decompressors {
		if d == name {
			return d, true
		}
	}
	return "", false
}

const (
	maxDecodeDepth   = 6
	maxDecodedTotal  = 8 << 20
	maxConstDepth    = 40
	maxConstLen      = maxDecoded
	budgetPerToken   = 64
	budgetFloor      = 1 << 20
	longLine         = 4000
	longLiteral      = 1024
	hugeBase64       = 4096
	entropyThreshold = 5.6
)

func (st *state) spend(n int) bool {
	if st.decided {
		return false
	}
	st.budget -= n
	if st.budget < 0 {
		st.capped = true
		return false
	}
	return true
}

// analyzePHP analyses PHP source; code is true for a decoded payload that
// starts in PHP mode.
func analyzePHP(src string, code bool, st *state) *scorer {
	a := &phpAn{src: src, sc: newScorer("php"), funcs: map[string]*phpFunc{}, props: map[string]uint64{}, st: st}
	a.sc.decided = &st.decided
	depth := st.depth
	buf := getPHPToks(depth)
	// PHP has one token per four to eight bytes of code: reserving for
	// four saves growing (copying) the slice for most files.
	if want := tokenCapHint(len(src)/4 + 16); cap(*buf) < want {
		*buf = make([]tok, 0, want)
	}
	a.toks = lexPHP(src, code, (*buf)[:0])
	var match *[]int
	defer func() {
		// The tokens are not referenced after analysis: recycle the slice.
		clear(a.toks)
		if cap(a.toks) <= maxPooledTokens {
			*buf = a.toks[:0]
			phpToksAt(depth).Put(buf)
		}
		putInts(match, a.match)
	}()
	if !code && !a.phpDominates() {
		// Another language's source holding a stray "<?": PHP-only
		// signals do not apply.
		a.sc.lang = ""
		a.sc.notes = append(a.sc.notes, "text after \"<?\" is another language's code, not PHP")
		return a.sc
	}
	match = getInts()
	a.match = matchBracketsInto(a.toks, *match)
	a.caps.recon = map[string]bool{}
	a.caps.execNames = map[string]bool{}
	a.caps.probed = map[string]bool{}
	a.caps.sockVars = map[string]bool{}
	a.caps.weakFiles = map[string]bool{}
	a.caps.pipeVars = map[string]bool{}
	a.collectFuncs()
	a.funcsCollected = true
	a.assigned = map[string]bool{}
	for k := range a.toks {
		t := &a.toks[k]
		if t.k != tVar {
			continue
		}
		end, _ := a.varEnd(k)
		if a.is(end, "=") || a.is(end, ".=") || a.is(end, "+=") || a.is(end, "=>") ||
			a.isIdent(k-1, "as") || a.isIdent(k-1, "global") || a.isIdent(k-1, "static") || a.is(k-1, "&") || a.is(k-1, "=>") ||
			a.is(k-1, ",") && (a.is(end, ")") || a.is(end, ",")) && !phpNoRefArgs[a.enclosingCall(k)] {
			// assignment, foreach binding, global/static, reference,
			// possible by-reference output argument (preg_match(..., $m)).
			a.assigned[t.s] = true
		}
		if a.isIdent(k-1, "list") || a.is(k-1, "[") && a.toks[k].k == tVar && (a.is(end, ",") || a.is(end, "]")) {
			a.assigned[t.s] = true
		}
	}
	// Parameters of named functions, closures and use() lists.
	for k := range a.toks {
		if (a.isIdent(k, "function") || a.isIdent(k, "fn") || a.isIdent(k, "use")) && k+1 < len(a.toks) {
			open := k + 1
			if open < len(a.toks) && (a.toks[open].k == tIdent || a.is(open, "&")) {
				open++
			}
			if open < len(a.toks) && a.toks[open].k == tIdent {
				open++
			}
			if a.is(open, "(") && a.match[open] > open {
				for p := open + 1; p < a.match[open]; p++ {
					if a.toks[p].k == tVar {
						a.assigned[a.toks[p].s] = true
					}
				}
			}
		}
	}
	// Summaries: iterate so wrappers of wrappers are found, and so property
	// taint assigned at top level reaches methods.
	a.pre = newScorer("php")
	a.pre.decided = &st.decided
	for round := 0; round < 3 && len(a.funcs) > 0; round++ {
		before := a.summaryKey()
		budget := st.budget
		a.log = &roundLog{}
		st.rounds++
		for _, f := range a.funcList {
			a.runFunc(f)
		}
		for _, f := range a.others {
			a.runFunc(f)
		}
		a.run(newScope(nil), 0, len(a.toks), true)
		if st.decided {
			// Taint only grows from round to round: what reached a sink
			// here reaches it in the final pass too.
			a.pre.merge(a.sc, "")
			a.pre.notes = a.sc.notes
			return a.pre
		}
		if a.summaryKey() == before {
			break
		}
		if round < 2 && !st.capped && !noRoundSkip && a.log.settled(a) {
			// The next round would repeat this one and change nothing:
			// charge its work to the budget as if it had run, and stop.
			st.spend(budget - st.budget)
			st.roundsSkipped++
			break
		}
	}
	a.log = nil
	a.final = true
	for _, f := range a.funcList {
		a.runFunc(f)
	}
	top := newScope(nil)
	a.run(top, 0, len(a.toks), true)
	if st.decided {
		return a.sc
	}
	a.literalSignals()
	if !st.decided {
		a.structural()
	}
	return a.sc
}

// matchBrackets pairs (), [] and {} of PHP tokens in one pass.
func matchBrackets(ts []tok) []int { return matchBracketsInto(ts, nil) }

// matchBracketsInto is matchBrackets reusing buf's storage when it is large
// enough.
func matchBracketsInto(ts []tok, buf []int) []int {
	m := intsOfLen(buf, len(ts))
	var p bracketPairer
	for i := range ts {
		m[i] = -1
		if t := &ts[i]; t.k == tOp && len(t.s) == 1 {
			p.step(m, i, t.s[0])
		}
	}
	return m
}

// bracketPairer pairs (), [] and {} in one pass over a script's tokens (see
// matchBracketsInto, matchScript): step is called, in order, for each
// one-byte operator token. Each element of m is set to -1 before its
// token's step; a pair found sets both ends. Unbalanced brackets stay -1.
type bracketPairer struct {
	open []openBracket // brackets not yet closed, innermost last
}

type openBracket struct {
	i int
	c byte
}

func (p *bracketPairer) step(m []int, i int, c byte) {
	switch c {
	case '(', '[', '{':
		p.open = append(p.open, openBracket{i, c})
	case ')', ']', '}':
		want := byte('{')
		switch c {
		case ')':
			want = '('
		case ']':
			want = '['
		}
		// Pop until the matching kind (tolerates stray brackets).
		for len(p.open) > 0 {
			o := p.open[len(p.open)-1]
			p.open = p.open[:len(p.open)-1]
			if o.c == want {
				m[i], m[o.i] = o.i, i
				break
			}
		}
	}
}

func (a *phpAn) is(k int, s string) bool {
	return k >= 0 && k < len(a.toks) && a.toks[k].k == tOp && a.toks[k].s == s
}

func (a *phpAn) isIdent(k int, l string) bool {
	return k >= 0 && k < len(a.toks) && a.toks[k].k == tIdent && a.toks[k].l == l
}

// collectFuncs finds named function and method definitions.
func (a *phpAn) collectFuncs() {
	for k := 0; k+2 < len(a.toks); k++ {
		if !a.isIdent(k, "function") {
			continue
		}
		n := k + 1
		if a.is(n, "&") {
			n++
		}
		if n >= len(a.toks) || a.toks[n].k != tIdent || !a.is(n+1, "(") {
			continue
		}
		pe := a.match[n+1]
		if pe < 0 {
			continue
		}
		f := &phpFunc{name: a.toks[n].l}
		for p := n + 2; p < pe; p++ {
			if a.toks[p].k == tVar && (p == n+2 || !a.is(p-1, "=")) {
				if len(f.params) < maxParams {
					f.params = append(f.params, a.toks[p].s)
				}
			}
			if a.is(p, "=") || a.is(p, "(") || a.is(p, "[") {
				// default value: skip to next top-level comma
				for p < pe && !a.is(p, ",") {
					if m := a.match[p]; m > p {
						p = m
					}
					p++
				}
			}
		}
		b := pe + 1
		for b < len(a.toks) && !a.is(b, "{") && !a.is(b, ";") {
			b++
		}
		if !a.is(b, "{") || a.match[b] < 0 {
			continue
		}
		f.body = [2]int{b + 1, a.match[b]}
		f.decoder = a.decodesInBody(f.body[0], f.body[1])
		if _, dup := a.funcs[f.name]; !dup {
			a.funcs[f.name] = f
			a.funcList = append(a.funcList, f)
		} else if len(a.others) < maxOtherFuncs {
			a.others = append(a.others, f)
		}
	}
}

func (a *phpAn) runFunc(f *phpFunc) {
	sc := newScope(f)
	for i, p := range f.params {
		sc.taint[p] = 1 << i
	}
	a.run(sc, f.body[0], f.body[1], false)
}

// run walks tokens [s,e) of one scope in order, tracking assignments and
// checking every call.
func (a *phpAn) run(sc *phpScope, s, e int, top bool) {
	for k := s; k < e; k++ {
		if !a.st.spend(1) {
			return
		}
		t := &a.toks[k]
		switch t.k {
		case tIdent:
			if t.l == "function" {
				// Named functions are analysed on their own; closures inline.
				n := k + 1
				if a.is(n, "&") {
					n++
				}
				if n < e && a.toks[n].k == tIdent && a.is(n+1, "(") {
					if f, ok := a.funcs[a.toks[n].l]; ok && f.body[0] > k && f.body[1] <= e {
						k = f.body[1]
					}
				}
				continue
			}
			if t.l == "return" && sc.fn != nil && !a.final {
				rt, _ := a.taint(sc, k+1, a.exprEnd(k+1, e))
				sc.fn.ret |= rt
			}
			if t.l == "foreach" && a.is(k+1, "(") {
				a.foreach(sc, k+1)
				continue
			}
			if t.l == "include" || t.l == "include_once" || t.l == "require" || t.l == "require_once" {
				a.include(sc, k)
				continue
			}
			if a.final && a.isIdent(k-1, "new") && phpDB[t.l] {
				a.caps.db = true
			}
			if a.final && a.isIdent(k-1, "new") && a.is(k+1, "(") {
				a.inputCapability(sc, t.l, a.callClass(k), k+1)
			}
			if a.isIdent(k-1, "new") && a.is(k+1, "(") && a.funcs["__construct"] != nil {
				a.userCall(sc, a.funcs["__construct"], k+1, int(t.pos))
			}
			if a.isIdent(k-1, "new") && (t.l == "reflectionfunction" || t.l == "reflectionmethod") && a.is(k+1, "(") {
				if rt, _ := a.taint(sc, k+2, max(k+2, a.match[k+1])); rt&inputBit != 0 {
					a.found("PHP-INPUT-FUNC", wInputFunc, "reflected function name comes from the request", int(t.pos))
				} else if v, ok := a.constEval(sc, k+2, max(k+2, a.match[k+1]), 0); ok {
					if kind, bad := dangerousNames[strings.ToLower(v.s)]; bad && kind != sinkWrite {
						a.found("PHP-DYNAMIC-SINK", wDynSinkName, "dangerous function "+strconv.Quote(v.s)+" called through reflection", int(t.pos))
					}
				}
			}
			if a.isIdent(k-1, "new") && (t.l == "com" || t.l == "variant") && a.is(k+1, "(") {
				if args := a.args(k + 1); len(args) > 0 {
					if v, ok := a.constEval(sc, args[0][0], args[0][1], 0); ok {
						lv := strings.ToLower(v.s)
						if strings.Contains(lv, "wscript.shell") || strings.Contains(lv, "shell.application") {
							a.comShell = true
							a.caps.exec = true
							a.found("PHP-COM-SHELL", wExecWrapper, "creates a Windows shell COM object", int(t.pos))
						}
					}
				}
			}
			if a.is(k+1, "(") && !a.isIdent(k-1, "function") && !a.isIdent(k-1, "new") {
				method := a.is(k-1, "->") || a.is(k-1, "::")
				a.call(sc, k, method)
			}
		case tVar:
			k = a.variable(sc, k, e) - 1
		case tExec:
			a.backtick(sc, k)
		case tOp:
			if t.s == ")" && a.is(k+1, "(") && a.match[k] >= 0 {
				// (expr)(args): a call through a computed callee.
				a.dynCall(sc, a.match[k]+1, k, k+1, false)
			}
		}
	}
}

func (a *phpAn) foreach(sc *phpScope, open int) {
	close := a.match[open]
	if close < 0 {
		return
	}
	as := -1
	for p := open + 1; p < close; p++ {
		if a.isIdent(p, "as") {
			as = p
			break
		}
		if m := a.match[p]; m > p {
			p = m
		}
	}
	if as < 0 {
		return
	}
	t, _ := a.taint(sc, open+1, as)
	// foreach (array('_POST', '_GET') as $n): $n names a superglobal, so
	// $$n reads request input.
	sgName := ""
	for p := open + 1; p < as; p++ {
		if a.toks[p].k == tStr && phpInputVars[a.toks[p].s] {
			sgName = a.toks[p].s
		}
	}
	words := a.constWords(sc, open+1, as)
	for p := as + 1; p < close; p++ {
		if a.toks[p].k == tVar && len(words) > 0 && !a.is(p+1, "=>") {
			if sc.words == nil {
				sc.words = map[string][]string{}
			}
			sc.words[a.toks[p].s] = words
		}
		if a.toks[p].k == tVar {
			sc.taint[a.toks[p].s] |= t
			if sgName != "" && !a.is(p-1, "=>") && !a.is(p+1, "=>") {
				sc.val[a.toks[p].s] = constVal{s: sgName}
			}
		}
	}
}

// exprEnd returns the end of the expression starting at s (exclusive): the
// first top-level ';' or ',' or a closing bracket of an enclosing group.
func (a *phpAn) exprEnd(s, limit int) int {
	for p := s; p < limit; p++ {
		t := a.toks[p]
		if t.k == tOp {
			switch t.s {
			case ";", ",", ")", "]", "}":
				return p
			case "(", "[", "{":
				if m := a.match[p]; m > p {
					p = m
				} else {
					return limit
				}
			}
		}
		if t.k == tIdent && (t.l == "as" || t.l == "and" || t.l == "or") {
			return p
		}
	}
	return limit
}

// args splits the argument list of the call whose '(' is at open. The
// result is shared (see argsMemo): callers must not modify it.
func (a *phpAn) args(open int) [][2]int {
	e := &a.argsMemo[open%len(a.argsMemo)]
	if e.ok && e.open == open {
		return e.args
	}
	out := a.splitArgs(open)
	*e = argsEntry{open: open, args: out, ok: true}
	return out
}

// argsEntry is one remembered result of args.
type argsEntry struct {
	open int
	args [][2]int
	ok   bool
}

// splitArgs computes args(open).
func (a *phpAn) splitArgs(open int) [][2]int {
	close := a.match[open]
	if close < 0 {
		return nil
	}
	var out [][2]int
	st := open + 1
	for p := open + 1; p < close; p++ {
		if a.is(p, ",") {
			out = append(out, [2]int{st, p})
			st = p + 1
			continue
		}
		if m := a.match[p]; m > p {
			p = m
		}
	}
	if st < close || len(out) > 0 {
		out = append(out, [2]int{st, close})
	}
	return out
}

// varEnd returns the end of a variable reference at k: indexes, property and
// ${...} parts included. method is true when it ends in ->name( or ::name(.
func (a *phpAn) varEnd(k int) (end int, method bool) {
	p := k + 1
	if a.toks[k].s == "" && a.is(p, "{") && a.match[p] > p {
		p = a.match[p] + 1
	} else if a.toks[k].s == "" && p < len(a.toks) && a.toks[p].k == tVar {
		p++
	}
	for p < len(a.toks) {
		switch {
		case (a.is(p, "[") || a.is(p, "{")) && a.match[p] > p:
			p = a.match[p] + 1
		case (a.is(p, "->") || a.is(p, "::")) && p+1 < len(a.toks) && (a.toks[p+1].k == tIdent || a.toks[p+1].k == tVar):
			if a.is(p+2, "(") {
				return p + 1, true
			}
			p += 2
		default:
			return p, false
		}
	}
	return p, false
}

// varRef computes the taint and constant value of the variable reference
// [k,end).
func (a *phpAn) varRef(sc *phpScope, k, end int) (uint64, constVal, bool) {
	t := &a.toks[k]
	name := t.s
	var taint uint64
	if name == "" {
		switch {
		case a.is(k+1, "{") && a.match[k+1] > k:
			v, ok := a.constEval(sc, k+2, a.match[k+1], 0)
			if !ok {
				v, ok = a.bareVarName(k + 1)
			}
			if ok {
				name = v.s
				if name != "" && phpInputVars[name] {
					a.sc.add("PHP-DYNAMIC-VAR", wDynSinkName*0.5, "superglobal name assembled at run time", snippet(a.src, int(t.pos)))
				}
			} else {
				tt, _ := a.taint(sc, k+2, a.match[k+1])
				taint |= tt
			}
		case k+1 < len(a.toks) && a.toks[k+1].k == tVar:
			inner := a.toks[k+1].s
			if v, ok := sc.val[inner]; ok {
				name = v.s
				if v.dec && !phpInputVars[name] {
					// $$n with n decoded from pieces: the name is hidden.
					a.caps.dynVarRead = true
				}
			} else {
				taint |= a.lookup(sc, inner)
				if a.computedName(sc, inner) {
					// $$n with n assembled at run time (it may well name
					// a superglobal): the value read is unknown.
					taint |= weakBit
					a.caps.dynVarRead = true
				}
			}
		}
	}
	// Index and property parts.
	p := k + 1
	if t.s == "" {
		if a.is(p, "{") && a.match[p] > p {
			p = a.match[p] + 1
		} else if p < end && a.toks[p].k == tVar {
			p++
		}
	}
	firstIndex := ""
	if p < end && a.is(p, "[") && a.match[p] > p {
		if v, ok := a.constEval(sc, p+1, a.match[p], 0); ok {
			firstIndex = v.s
		}
	}
	switch {
	case phpInputVars[name]:
		taint |= inputBit
	case name == "_SERVER" || name == "HTTP_SERVER_VARS":
		if serverInput(firstIndex) {
			taint |= inputBit
		}
	case name == "GLOBALS":
		if phpInputVars[firstIndex] {
			taint |= inputBit
		} else if firstIndex != "" {
			taint |= a.lookup(sc, firstIndex)
		}
	case name == "this":
		// property taint below
	case name != "":
		taint |= a.lookup(sc, name)
	}
	if taint&inputBit != 0 {
		a.caps.input = true
	}
	// $obj->prop
	for q := p; q+1 < end; q++ {
		if a.is(q, "->") && a.toks[q+1].k == tIdent {
			taint |= a.propTaint(a.toks[q+1].l)
		}
		if m := a.match[q]; m > q {
			q = m
		}
	}
	var cv constVal
	ok := false
	if p == end && name != "" {
		cv, ok = sc.val[name]
	}
	return taint, cv, ok
}

// phpPredefined are variables PHP itself defines.
var phpPredefined = map[string]bool{"this": true, "GLOBALS": true, "_SERVER": true, "_ENV": true,
	"_SESSION": true, "php_errormsg": true, "http_response_header": true, "argv": true, "argc": true}

func (a *phpAn) lookup(sc *phpScope, name string) uint64 {
	if t, ok := sc.taint[name]; ok {
		// Assigned in this scope, possibly through a computed name
		// (${"s".$i} = ...) the assignment scan cannot see.
		return t
	}
	if sc.fn == nil && !a.assigned[name] && !phpPredefined[name] {
		if sc.extracted {
			// Request input was spread into variables whose names the
			// request chooses (extract(), $$k = $v).
			return inputBit
		}
		// Never assigned anywhere in the file: with register_globals (or an
		// extract() in an including file) it comes from the request.
		return weakBit
	}
	if sc.extracted {
		if _, isConst := sc.val[name]; !isConst {
			return inputBit
		}
	}
	return 0
}

// variable handles a variable at k: assignment or dynamic call. It returns
// the index to continue from.
func (a *phpAn) variable(sc *phpScope, k, limit int) int {
	end, method := a.varEnd(k)
	if method {
		// $obj->name(...): user method summaries apply.
		if end < len(a.toks) && a.toks[end].k == tIdent {
			a.call(sc, end, true)
		}
		return k + 1
	}
	if end >= len(a.toks) {
		return k + 1
	}
	op := a.toks[end]
	if op.k == tOp && (op.s == "=" || op.s == ".=") && !a.is(end+1, "&") || op.k == tOp && op.s == "=" {
		rs := end + 1
		if a.is(rs, "&") {
			rs++
		}
		re := a.exprEnd(rs, limit)
		t, _ := a.taint(sc, rs, re)
		v, vok := a.constEval(sc, rs, re, 0)
		name := a.toks[k].s
		whole := end == k+1
		if gname, ok := a.globalsTarget(sc, k, end); ok {
			// $GLOBALS['x'] = ...: the global $x.
			name, whole = gname, true
		}
		if !whole && name != "" && name != "this" {
			if dn := a.dangerName(sc, rs, re, v, vok); dn != "" {
				sc.arrName[name] = dn
			}
			a.arrayElemAssign(sc, k, end, op.s, v, vok)
		}
		if whole && name != "" && op.s == "=" {
			if m, ok := a.constArray(sc, rs, re); ok {
				if sc.arr == nil {
					sc.arr = map[string]map[string]constVal{}
				}
				sc.arr[name] = m
			} else {
				delete(sc.arr, name)
			}
		}
		if whole && name != "" {
			delete(sc.inputFile, name)
			if op.s == "=" {
				sc.prefixed[name] = a.startsFixed(sc, rs, re)
			}
			if dn := a.dangerName(sc, rs, re, v, vok); dn != "" && !vok {
				sc.arrName[name] = dn
			}
			p := rs
			if a.is(p, "@") {
				p++
			}
			if _, _, _, ok := a.closureAt(p); ok {
				if a.closureVars == nil {
					a.closureVars = map[string]int{}
				}
				a.closureVars[name] = p
			} else {
				delete(a.closureVars, name)
			}
			if p < len(a.toks) && a.toks[p].k == tIdent && phpSocketOpen[a.toks[p].l] && a.is(p+1, "(") {
				a.caps.sockVars[name] = true
			}
			if a.isIdent(p, "fopen") && a.is(p+1, "(") {
				if args := a.args(p + 1); len(args) > 0 {
					if ft, _ := a.taint(sc, args[0][0], args[0][1]); ft&inputBit != 0 {
						sc.inputFile[name] = true
					} else if ft&weakBit != 0 && sc.fn == nil {
						a.caps.weakFiles[name] = true
					}
				}
			}
		}
		if name == "" {
			// $$x = ...: variable variables named by input act like extract().
			if k+1 < len(a.toks) && a.toks[k+1].k == tVar && a.lookup(sc, a.toks[k+1].s)&inputBit != 0 {
				sc.extracted = true
			}
			if k+1 < len(a.toks) && a.toks[k+1].k == tVar && end == k+2 && op.s == "=" {
				inner := a.toks[k+1].s
				if nv, ok := sc.val[inner]; ok && nv.s != "" {
					name, whole = nv.s, true
				} else if ws := sc.words[inner]; len(ws) > 0 {
					// foreach (explode(" ", "c cmd") as $v) $$v = input;
					for _, w := range ws {
						sc.taint[w] |= t
						delete(sc.val, w)
					}
				}
			}
			if a.is(k+1, "{") && a.match[k+1] > 0 {
				nv, ok := a.constEval(sc, k+2, a.match[k+1], 0)
				if !ok {
					nv, ok = a.bareVarName(k + 1)
				}
				if ok {
					name, whole = nv.s, true
				} else if t&inputBit != 0 {
					// ${"s".$i} = input: names we cannot resolve may hold input.
					sc.extracted = true
				}
			}
		}
		// property assignment: $this->x = ...
		if !whole {
			for q := k + 1; q+1 < end; q++ {
				if a.is(q, "->") && a.toks[q+1].k == tIdent && q+2 == end {
					a.props[a.toks[q+1].l] |= t & (inputBit | remoteBit | decodeBit)
				}
			}
		}
		if name != "" && name != "this" {
			if whole && op.s == "=" && a.defaultGuard(k, name) {
				// if (!isset($x)) $x = default;: the value may still be
				// the one set before (by the request).
				sc.taint[name] |= t
				delete(sc.val, name)
			} else if whole && op.s == "=" {
				sc.taint[name] = t
				if vok {
					sc.val[name] = v
					if v.dec {
						a.decodedLayer(v.s, int(a.toks[k].pos), false)
					}
				} else {
					delete(sc.val, name)
				}
			} else {
				sc.taint[name] |= t
				if old, ok := sc.val[name]; ok && vok && whole && op.s == ".=" && len(old.s)+len(v.s) <= maxConstLen {
					sc.val[name] = constVal{s: old.s + v.s, dec: old.dec || v.dec}
				} else {
					delete(sc.val, name)
				}
			}
		}
		return end + 1
	}
	if a.is(end, "(") && !a.is(k-1, "->") && !a.is(k-1, "::") && !a.isIdent(k-1, "new") {
		a.dynCall(sc, k, end, end, true)
	}
	return k + 1
}

// dynCall checks a call whose callee is the expression [cs,ce) and whose
// argument list opens at open.
func (a *phpAn) dynCall(sc *phpScope, cs, ce, open int, isVar bool) {
	var ct uint64
	var cv constVal
	var cok bool
	if isVar {
		ct, cv, cok = a.varRef(sc, cs, ce)
		if !cok {
			if dn, ok := sc.arrName[a.toks[cs].s]; ok {
				cv, cok = constVal{s: dn}, true
			}
		}
		if !cok && ce > cs+1 {
			// $GLOBALS['f'](...), $arr['k'](...): a constant element.
			cv, cok = a.constEval(sc, cs, ce, 0)
		}
	} else {
		ct, _ = a.taint(sc, cs, ce)
		cv, cok = a.constEval(sc, cs, ce, 0)
	}
	args := a.args(open)
	var at uint64
	argT := make([]uint64, len(args))
	for i, r := range args {
		t, _ := a.taint(sc, r[0], r[1])
		at |= t
		argT[i] = t
	}
	pos := int(a.toks[cs].pos)
	if c, ok := a.closureVar(a.toks[cs].s); ok && isVar && ce == cs+1 && at&(inputBit|weakBit) != 0 {
		// $f = function ($c) { ... }; $f($_GET['c']): the body runs
		// with the request's values in its parameters.
		a.runClosure(sc, c, argT, false)
		return
	}
	if ct&inputBit != 0 {
		a.found("PHP-INPUT-FUNC", wInputFunc, "function name comes from the request", pos)
	}
	if sc.fn != nil && !a.final {
		// A function that calls its parameter behaves like call_user_func.
		sc.fn.sinks[sinkCode] |= ct & paramMask
		if isVar && ce == cs+1 {
			sc.fn.callee |= ct & paramMask
			if at&inputBit != 0 {
				sc.fn.calleeIn |= ct & paramMask
			}
		}
	}
	if cok {
		name := strings.ToLower(strings.TrimLeft(strings.TrimSpace(cv.s), "\\"))
		kind, bad := dangerousNames[name]
		if spec, ok := phpSinks[name]; ok {
			kind, bad = spec.kind, true
		}
		if !bad && (cv.dec || !isVar && at&inputBit != 0 && a.computedCallable(sc, cs, ce)) && (at&inputBit != 0 || at&weakBit != 0 && a.hasDynVarRead()) {
			// A function name decoded from pieces (xor, chr, ...) and
			// called with request data or a value read through a hidden
			// variable name: an obfuscated call whatever it resolves to.
			a.found("PHP-COMPUTED-CALL-INPUT", wComputedCall, "function with a decoded name called with request data", pos)
		}
		if bad {
			a.found("PHP-DYNAMIC-SINK", wDynSinkName, "dangerous function "+strconv.Quote(name)+" called through a variable", pos)
			if at&inputBit != 0 {
				a.sinkHit(kind, "dynamic call of "+name, pos)
			}
			if sc.fn != nil && !a.final {
				sc.fn.sinks[kind] |= at & paramMask
			}
		}
	} else if ct == 0 && at&inputBit != 0 && !isVar && a.computedCallable(sc, cs, ce) {
		// (substr($m, 0, 3) . "tem")($_GET['a']): a name assembled from
		// string pieces, called with request data.
		a.found("PHP-COMPUTED-CALL-INPUT", wComputedCall, "function with a computed name called with request data", pos)
	} else if ct == 0 && at&inputBit != 0 && !isVar {
		a.found("PHP-DYNAMIC-CALL", wEvalDynamic, "computed function called with request data", pos)
	} else if ct&(inputBit|weakBit|paramMask) == 0 && (at&inputBit != 0 || at&weakBit != 0 && a.hasDynVarRead()) && isVar && ce == cs+1 && a.computedName(sc, a.toks[cs].s) {
		// $f($_POST[x]) where $f is a string computed in this file that we
		// cannot resolve (substr/md5/xor tricks): the shape of an
		// obfuscated eval/system call.
		a.found("PHP-COMPUTED-CALL-INPUT", wComputedCall, "function with a computed name called with request data", pos)
	}
}

// computedName reports whether variable name is assigned in this file
// from a string expression (not a closure, object or parameter), so calling
// it runs a function whose name was assembled at run time.
func (a *phpAn) computedName(sc *phpScope, name string) bool {
	if sc.fn != nil {
		for _, p := range sc.fn.params {
			if p == name {
				return false
			}
		}
	}
	// The answer depends on the file only: one scan answers every name.
	if a.computedNames == nil {
		a.computedNames = a.scanComputedNames()
	}
	return a.computedNames[name]
}

// maxNameExpr caps the tokens of one right-hand side scanComputedNames
// reads.
const maxNameExpr = 4096

// scanComputedNames finds, in one pass over the file, the variables whose
// first decisive assignment stores a string assembled from pieces
// (concatenation, xor, negation, a string function, or ".=" appends). An
// assignment of an array literal, closure or object decides "no"; so
// does nothing at all.
func (a *phpAn) scanComputedNames() map[string]bool {
	out := map[string]bool{}
	decided := map[string]bool{}
	for k := range a.toks {
		t := &a.toks[k]
		if t.k != tVar || t.s == "" || decided[t.s] || a.is(k+2, "=") {
			continue
		}
		// $f .= piece: the name is appended to, piece by piece.
		appended := a.is(k+1, ".=")
		if !appended && !a.is(k+1, "=") {
			continue
		}
		if a.is(k+2, "[") {
			decided[t.s] = true // array literal: [$obj, "method"]
			continue
		}
		e := min(a.exprEnd(k+2, len(a.toks)), k+2+maxNameExpr)
		computed := appended
		method, disq := false, false
		for p := k + 2; p < e && !method && !disq; p++ {
			tp := a.toks[p]
			switch {
			case tp.k == tIdent && (tp.l == "function" || tp.l == "fn" || tp.l == "new" || tp.l == "array"):
				disq = true
			case a.is(p, "->"), a.is(p, "::"):
				// A value read from an object: not evidence of a name
				// assembled from pieces (a later assignment may be).
				method, computed = true, false
			case tp.k == tOp && (tp.s == "." || tp.s == "^" || tp.s == "~"):
				computed = true
			case tp.k == tIdent && a.is(p+1, "("):
				// Any string function (substr, rtrim, preg_filter, ...).
				computed = true
			}
		}
		switch {
		case disq:
			decided[t.s] = true
		case computed:
			decided[t.s] = true
			out[t.s] = true
		}
	}
	return out
}

// computedCallable reports whether [s,e) builds a callable name from string
// pieces: concatenation/xor, or a variable holding such a value.
func (a *phpAn) computedCallable(sc *phpScope, s, e int) bool {
	if e == s+1 && a.toks[s].k == tVar {
		return a.computedName(sc, a.toks[s].s)
	}
	computed := false
	for p := s; p < e; p++ {
		tp := a.toks[p]
		switch {
		case tp.k == tIdent && (tp.l == "function" || tp.l == "fn" || tp.l == "array" || tp.l == "new"):
			return false
		case tp.k == tOp && (tp.s == "." || tp.s == "^"):
			computed = true
		case tp.k == tIdent && a.is(p+1, "(") && stringBuilders[tp.l]:
			computed = true
		}
	}
	return computed
}

// stringBuilders are functions obfuscated code uses to assemble a name.
var stringBuilders = map[string]bool{
	"substr": true, "chr": true, "join": true, "implode": true, "pack": true, "strrev": true,
	"str_replace": true, "base64_decode": true, "str_rot13": true, "strtolower": true, "strtoupper": true,
	"ucfirst": true, "trim": true, "hex2bin": true, "urldecode": true, "sprintf": true, "str_repeat": true,
	"array_pop": true, "end": true, "current": true, "basename": true, "gzinflate": true,
}

func (a *phpAn) found(name string, w float64, why string, pos int) {
	switch {
	case a.final:
		a.sc.add(name, w, why, snippet(a.src, pos))
	case a.pre != nil:
		a.pre.add(name, w, why, snippet(a.src, pos))
	}
}

func (a *phpAn) sinkHit(kind sinkKind, what string, pos int) {
	switch kind {
	case sinkCode:
		a.found("PHP-INPUT-EVAL", wInputCode, "request input reaches "+what, pos)
	case sinkExec:
		a.found("PHP-INPUT-EXEC", wInputExec, "request input reaches "+what, pos)
	case sinkInclude:
		a.found("PHP-INPUT-INCLUDE", wInputInclude, "request input reaches "+what, pos)
	case sinkWrite:
		a.found("PHP-INPUT-WRITE", wInputWrite, "request input chooses what "+what+" writes and where", pos)
	}
}

func (a *phpAn) backtick(sc *phpScope, k int) {
	t := &a.toks[k]
	a.caps.exec = a.caps.exec || t.vars != nil
	var taint uint64
	for _, v := range t.varList() {
		taint |= a.nameTaint(sc, v)
	}
	if taint&inputBit != 0 {
		a.sinkHit(sinkExec, "a backtick command", int(t.pos))
	} else if t.vars != nil {
		a.found("PHP-EXEC", wExecCap, "backtick command with variables", int(t.pos))
	}
	if sc.fn != nil && !a.final {
		sc.fn.sinks[sinkExec] |= taint & paramMask
	}
}

// nameTaint is the taint of an interpolated variable name.
func (a *phpAn) nameTaint(sc *phpScope, v string) uint64 {
	if i := strings.IndexByte(v, '['); i > 0 {
		if v[:i] == "_SERVER" && serverInput(strings.TrimSuffix(v[i+1:], "]")) {
			return inputBit
		}
		v = v[:i]
	}
	if phpInputVars[v] {
		a.caps.input = true
		return inputBit
	}
	return a.lookup(sc, v)
}

// call checks the call of the identifier at k (its '(' is at k+1).
func (a *phpAn) call(sc *phpScope, k int, method bool) {
	name := a.toks[k].l
	pos := int(a.toks[k].pos)
	open := k + 1
	if !a.is(open, "(") {
		return
	}
	cls := a.callClass(k)
	a.capability(sc, name, cls, open)
	if name == "define" {
		a.define(sc, open)
	}
	if cls&cUserFunc != 0 {
		f := a.funcs[name]
		a.userCall(sc, f, open, pos)
		if method {
			for _, g := range a.others {
				if g.name == name {
					a.dbHostCall(sc, g, open, pos)
				}
			}
		}
		return
	}
	if method && (name == "newinstance" || name == "newinstanceargs") && a.funcs["__construct"] != nil {
		// ReflectionClass::newInstance runs the constructor.
		a.userCall(sc, a.funcs["__construct"], open, pos)
	}
	if method {
		if name == "fromcallable" {
			a.fromCallable(sc, open)
		}
		if name == "eval" || name == "system" {
			// $perl->eval(...), $v8->eval(...): embedded interpreters.
			var t uint64
			for _, r := range a.args(open) {
				at, _ := a.taint(sc, r[0], r[1])
				t |= at
			}
			if t&inputBit != 0 {
				a.sinkHit(sinkCode, "an interpreter object's "+name+"()", pos)
			} else if t&weakBit != 0 {
				a.found("PHP-INDIRECT-INPUT", wIndirect, "an interpreter object's "+name+"() of a value derived from request input or an undefined variable", pos)
			}
			if sc.fn != nil && !a.final {
				sc.fn.sinks[sinkCode] |= t & paramMask
			}
		}
		if a.hasComShell() && (name == "exec" || name == "run" || name == "shellexecute") {
			var t uint64
			for _, r := range a.args(open) {
				at, _ := a.taint(sc, r[0], r[1])
				t |= at
			}
			if t&inputBit != 0 {
				a.sinkHit(sinkExec, "a Windows shell object's "+name+"()", pos)
			}
		}
		if name == "uasort" || name == "uksort" {
			// ArrayObject::uasort('assert'): the elements are passed to it.
			if args := a.args(open); len(args) == 1 {
				if v, ok := a.constEval(sc, args[0][0], args[0][1], 0); ok {
					if kind, bad := dangerousNames[strings.ToLower(v.s)]; bad && kind != sinkWrite {
						a.found("PHP-CALLBACK-SINK", wCallbackSink, name+"() with dangerous callable "+strconv.Quote(v.s), pos)
					}
				}
			}
		}
		return
	}
	switch name {
	case "extract", "parse_str", "import_request_variables", "mb_parse_str":
		args := a.args(open)
		if len(args) > 0 {
			t, _ := a.taint(sc, args[0][0], args[0][1])
			if name == "import_request_variables" || t&inputBit != 0 && (name == "extract" || len(args) == 1) {
				sc.extracted = true
			}
			if t&inputBit != 0 && len(args) == 2 && args[1][1] > args[1][0] && a.toks[args[1][0]].k == tVar {
				sc.taint[a.toks[args[1][0]].s] |= inputBit
			}
		}
		return
	case "filter_var", "filter_var_array", "filter_input", "filter_input_array":
		// FILTER_CALLBACK with a dangerous function as 'options'.
		close := a.match[open]
		cb, bad := false, false
		for p := open + 1; p < close; p++ {
			if a.isIdent(p, "filter_callback") {
				cb = true
			}
			if a.toks[p].k == tStr {
				if kind, ok := dangerousNames[strings.ToLower(a.toks[p].s)]; ok && kind != sinkWrite {
					bad = true
				}
			}
		}
		if cb && bad {
			if t, _ := a.taint(sc, open+1, close); t&inputBit != 0 || strings.HasPrefix(name, "filter_input") {
				a.sinkHit(sinkCode, name+"() with FILTER_CALLBACK", pos)
			}
		}
		return
	case "preg_replace", "mb_ereg_replace", "mb_eregi_replace", "preg_filter":
		a.pregReplace(sc, name, open, pos)
		return
	}
	if cls&cSink == 0 {
		return
	}
	spec := phpSinks[name]
	args := a.args(open)
	idx := spec.args
	if spec.last && len(args) > 0 {
		idx = []int{len(args) - 1}
	} else if idx == nil {
		idx = make([]int, len(args))
		for i := range idx {
			idx[i] = i
		}
	}
	var t uint64
	allTainted := true
	for _, i := range idx {
		if i < len(args) {
			at, _ := a.taint(sc, args[i][0], args[i][1])
			t |= at
			if at&inputBit == 0 {
				allTainted = false
			}
		} else {
			allTainted = false
		}
	}
	suppressed := a.is(k-1, "@")
	switch spec.kind {
	case sinkWrite:
		a.writtenCode(sc, name, args, pos)
		if name == "fwrite" || name == "fputs" {
			if t&inputBit != 0 && len(args) > 0 && a.toks[args[0][0]].k == tVar && sc.inputFile[a.toks[args[0][0]].s] {
				a.sinkHit(sinkWrite, name, pos)
			}
			if a.final && t&weakBit != 0 && len(args) > 0 && a.toks[args[0][0]].k == tVar && a.caps.weakFiles[a.toks[args[0][0]].s] {
				a.caps.weakWrite = true
			}
			if len(args) > 1 && a.toks[args[0][0]].k == tVar && a.pipeVar(a.toks[args[0][0]].s) {
				// fwrite($pipes[0], $cmd): a command for the shell process.
				switch {
				case t&inputBit != 0:
					a.sinkHit(sinkExec, name+"() to a shell process's input", pos)
				case t&weakBit != 0:
					a.found("PHP-INDIRECT-INPUT", wIndirect, name+"() to a shell process's input of a value derived from request input or an undefined variable", pos)
				}
				if sc.fn != nil && !a.final {
					sc.fn.sinks[sinkExec] |= t & paramMask
				}
			}
			return
		}
		if allTainted && len(idx) > 0 {
			a.sinkHit(sinkWrite, name, pos)
		} else if a.final && name == "file_put_contents" && sc.fn == nil && len(args) >= 2 && a.weakArgs(sc, args[0], args[1]) {
			a.caps.weakWrite = true
		} else if name == "file_put_contents" && len(args) >= 2 && a.inputPathWrite(sc, args[0], args[1]) {
			a.found("PHP-INPUT-WRITE", wInputWrite, "file_put_contents() writes content fetched or decoded at run time to a request-chosen path", pos)
		} else if name == "move_uploaded_file" && t&inputBit != 0 {
			a.found("PHP-UPLOAD-PATH", wUploadPath, "uploaded file stored under a request-chosen name", pos)
		}
		if sc.fn != nil && !a.final && len(idx) == 1 {
			sc.fn.sinks[sinkWrite] |= t & paramMask
		}
		if sc.fn != nil && !a.final && len(idx) == 2 && len(args) >= 2 {
			// function save($f, $d) { file_put_contents($f, $d); }: the
			// caller chooses both path and content.
			pt, _ := a.taint(sc, args[idx[0]][0], args[idx[0]][1])
			dt, _ := a.taint(sc, args[idx[1]][0], args[idx[1]][1])
			if pt&paramMask != 0 && dt&paramMask != 0 {
				sc.fn.writePath |= pt & paramMask
				sc.fn.writeData |= dt & paramMask
			}
		}
		return
	case sinkExec:
		a.caps.exec = true
		if len(args) > 0 && a.shellCommand(sc, args[0]) {
			a.pipeTarget(name, k, args)
		}
		if a.final {
			a.caps.execNames[name] = true
			if t&remoteBit != 0 {
				a.caps.execRemote = true
			}
		}
	}
	if t&inputBit != 0 {
		a.sinkHit(spec.kind, name+"()", pos)
	}
	if sc.fn != nil && !a.final {
		sc.fn.sinks[spec.kind] |= t & paramMask
	}
	if spec.cb && len(idx) == 1 && idx[0] < len(args) {
		if r := args[idx[0]]; r[1] > r[0] {
			if _, _, _, ok := a.closureAt(r[0]); ok {
				var data uint64
				for i, o := range args {
					if i != idx[0] {
						ot, _ := a.taint(sc, o[0], o[1])
						data |= ot
					}
				}
				if data&(inputBit|weakBit) != 0 {
					// array_map(function ($x) { ... }, $_POST): the
					// callback's parameters receive the request's data.
					a.runClosure(sc, r[0], []uint64{data}, true)
				}
			}
		}
	}
	if spec.cb {
		if sc.fn != nil && !a.final && len(idx) == 1 && idx[0] < len(args) {
			// function f($fn, $a) { call_user_func_array($fn, $a); }: f
			// calls the function its caller names.
			sc.fn.callee |= t & paramMask
		}
		// A callable naming a dangerous function, applied to request data.
		if len(idx) == 1 && idx[0] < len(args) {
			if cv, ok := a.constEval(sc, args[idx[0]][0], args[idx[0]][1], 0); ok {
				cn := strings.ToLower(strings.TrimLeft(cv.s, "\\"))
				if f := a.funcs[cn]; f != nil && f.calleeIn != 0 && a.final {
					// array_walk($a, "f"), f calling a function named by
					// its parameters with request input: the array's
					// elements name the function.
					for i, r := range args {
						if i == idx[0] {
							continue
						}
						if dn := a.arrayNamesSink(sc, r[0], r[1]); dn != "" {
							a.sinkHit(sinkCode, name+"() of "+f.name+"(), which calls "+strconv.Quote(dn)+" named by the array with request data", pos)
						}
					}
				}
				kind, bad := dangerousNames[cn]
				if bad && kind != sinkWrite && cn != "base64_decode" && cn != "str_rot13" && cn != "gzinflate" {
					var rest uint64
					for i, r := range args {
						if i != idx[0] {
							rt, _ := a.taint(sc, r[0], r[1])
							rest |= rt
						}
					}
					if rest&inputBit != 0 {
						a.sinkHit(kind, name+"() with callable "+strconv.Quote(cn), pos)
					} else {
						a.found("PHP-CALLBACK-SINK", wCallbackSink, name+"() with dangerous callable "+strconv.Quote(cn), pos)
					}
					if sc.fn != nil && !a.final {
						sc.fn.sinks[kind] |= rest & paramMask
					}
				}
			} else if r := args[idx[0]]; t&(inputBit|weakBit|paramMask) == 0 && (a.computedCallable(sc, r[0], r[1]) || a.decoderCall(r[0], r[1])) {
				var rest uint64
				for i, r := range args {
					if i != idx[0] {
						rt, _ := a.taint(sc, r[0], r[1])
						rest |= rt
					}
				}
				if rest&inputBit != 0 {
					a.found("PHP-COMPUTED-CALL-INPUT", wComputedCall, name+"() with a computed callable applied to request data", pos)
				}
			}
		}
		return
	}
	if len(idx) == 0 || idx[0] >= len(args) {
		return
	}
	r := args[idx[0]]
	cv, cok := a.constEval(sc, r[0], r[1], 0)
	switch {
	case t&inputBit != 0:
	case t&weakBit != 0 && !spec.cb:
		a.found("PHP-INDIRECT-INPUT", wIndirect, name+"() of a value derived from request input or an undefined variable", pos)
	case spec.kind == sinkCode && cok:
		if cv.dec {
			a.found("PHP-OBFUSCATED-EVAL", wObfEval, name+"() of a decoded constant", pos)
		}
		a.decodedLayer(cv.s, pos, true)
	case spec.kind == sinkCode && t&decodeBit != 0 && !spec.cb:
		a.found("PHP-EVAL-DECODED", wEvalDecoded, name+"() of a value decoded at run time", pos)
	case spec.kind == sinkCode && t&remoteBit != 0:
		a.found("PHP-REMOTE-EVAL", wRemoteEval, name+"() of content read at run time", pos)
	case spec.kind == sinkCode && t == 0 && name != "assert":
		a.found("PHP-EVAL", wEvalDynamic, name+"() of a computed value", pos)
	case spec.kind == sinkExec && !cok:
		a.found("PHP-EXEC", wExecCap, name+"() of a computed command", pos)
	}
	if suppressed && (spec.kind == sinkCode && !spec.cb || spec.kind == sinkExec) {
		a.found("PHP-SUPPRESSED-SINK", wSuppressed, "@ hides errors of "+name+"()", pos)
	}
}

func (a *phpAn) userCall(sc *phpScope, f *phpFunc, open, pos int) {
	a.dbHostCall(sc, f, open, pos)
	args := a.args(open)
	if f.callee != 0 {
		// function f($fn) { $fn(...); } f("assert"): the wrapper calls a
		// dangerous function named by its caller.
		for i, r := range args {
			if i >= maxParams || f.callee&(1<<i) == 0 {
				continue
			}
			cv, ok := a.constEval(sc, r[0], r[1], 0)
			if !ok {
				continue
			}
			name := strings.ToLower(strings.TrimLeft(strings.TrimSpace(cv.s), "\\"))
			kind, bad := dangerousNames[name]
			if spec, ok := phpSinks[name]; ok {
				kind, bad = spec.kind, true
			}
			if !bad {
				continue
			}
			a.found("PHP-DYNAMIC-SINK", wDynSinkName, "dangerous function "+strconv.Quote(name)+" passed to "+f.name+"(), which calls it", pos)
			if f.calleeIn&(1<<i) != 0 {
				a.sinkHit(kind, f.name+"() calling "+name+" with request data", pos)
			}
		}
	}
	if f.writePath != 0 && f.writeData != 0 {
		var pt, dt uint64
		for i, r := range args {
			if i >= maxParams || (f.writePath|f.writeData)&(1<<i) == 0 {
				continue
			}
			t, _ := a.taint(sc, r[0], r[1])
			if f.writePath&(1<<i) != 0 {
				pt |= t
			}
			if f.writeData&(1<<i) != 0 {
				dt |= t
			}
		}
		if pt&inputBit != 0 && dt&inputBit != 0 {
			a.sinkHit(sinkWrite, f.name+"() (a wrapper of a file write)", pos)
		}
		if sc.fn != nil && !a.final && pt&paramMask != 0 && dt&paramMask != 0 {
			sc.fn.writePath |= pt & paramMask
			sc.fn.writeData |= dt & paramMask
		}
	}
	for kind := sinkKind(0); kind < nSinkKinds; kind++ {
		m := f.sinks[kind]
		if m == 0 {
			continue
		}
		for i, r := range args {
			if i >= maxParams || m&(1<<i) == 0 {
				continue
			}
			a.escNoSanitize = true
			t, _ := a.taint(sc, r[0], r[1])
			a.escNoSanitize = false
			if t&inputBit != 0 {
				a.sinkHit(kind, f.name+"() (a wrapper of a dangerous sink)", pos)
			}
			if sc.fn != nil && !a.final {
				sc.fn.sinks[kind] |= t & paramMask
			}
		}
	}
}

func (a *phpAn) pregReplace(sc *phpScope, name string, open, pos int) {
	args := a.args(open)
	if len(args) < 2 {
		return
	}
	pt, _ := a.taint(sc, args[0][0], args[0][1])
	pv, pok := a.constEval(sc, args[0][0], args[0][1], 0)
	eMod := false
	if pok {
		if strings.HasPrefix(name, "mb_") {
			eMod = len(args) >= 4 && a.argHasE(sc, args[3])
		} else {
			eMod = pregHasE(pv.s)
		}
	} else if pre, suf, ok := a.constEnds(sc, args[0][0], args[0][1]); ok && !strings.HasPrefix(name, "mb_") {
		// "/" . $word . "/e": the delimiters and modifiers are fixed even
		// though the pattern body is not.
		eMod = pregHasE(pre + "x" + suf)
	}
	rt, _ := a.taint(sc, args[1][0], args[1][1])
	if pt&inputBit != 0 && a.toks[args[0][1]-1].k == tStr {
		pt = 0 // the code supplies the closing delimiter and modifiers
	}
	if pt&inputBit != 0 || eMod && rt&inputBit != 0 {
		a.sinkHit(sinkCode, name+"() with /e", pos)
	} else if eMod && rt&remoteBit != 0 {
		a.found("PHP-REMOTE-EVAL", wRemoteEval, name+"() /e of content read at run time", pos)
	} else if eMod {
		if len(args) >= 3 {
			st, _ := a.taint(sc, args[2][0], args[2][1])
			if st&inputBit != 0 {
				a.sinkHit(sinkCode, name+"() with /e", pos)
			}
		}
		rv, rok := a.constEval(sc, args[1][0], args[1][1], 0)
		if rok {
			if rv.dec {
				a.found("PHP-OBFUSCATED-EVAL", wObfEval, name+"() /e of a decoded constant", pos)
			}
			a.decodedLayer(rv.s, pos, true)
		}
		a.found("PHP-PREG-E", wEvalDynamic, name+"() with the /e modifier", pos)
	}
	if sc.fn != nil && !a.final {
		if eMod {
			sc.fn.sinks[sinkCode] |= rt & paramMask
		}
	}
}

func (a *phpAn) argHasE(sc *phpScope, r [2]int) bool {
	v, ok := a.constEval(sc, r[0], r[1], 0)
	return ok && strings.Contains(v.s, "e")
}

// pregHasE reports whether a PCRE pattern literal carries the e modifier.
func pregHasE(p string) bool {
	p = strings.TrimSpace(p)
	if len(p) < 2 {
		return false
	}
	d := p[0]
	if isIdentByte(d) || d == '\\' {
		return false
	}
	switch d {
	case '(':
		d = ')'
	case '[':
		d = ']'
	case '{':
		d = '}'
	case '<':
		d = '>'
	}
	i := strings.LastIndexByte(p, d)
	if i <= 0 {
		return false
	}
	return strings.ContainsRune(p[i+1:], 'e')
}

func (a *phpAn) include(sc *phpScope, k int) {
	s := k + 1
	e := a.exprEnd(s, len(a.toks))
	if s >= e {
		return
	}
	pos := int(a.toks[k].pos)
	t, _ := a.taint(sc, s, e)
	v, ok := a.constEval(sc, s, e, 0)
	if ok {
		lv := strings.ToLower(strings.TrimSpace(v.s))
		if strings.HasPrefix(lv, "data:") || strings.HasPrefix(lv, "php://input") {
			a.found("PHP-INPUT-INCLUDE", wInputInclude, "include of "+strconv.Quote(clipN(lv, 24)), pos)
		} else if strings.HasPrefix(lv, "http://") || strings.HasPrefix(lv, "https://") || strings.HasPrefix(lv, "ftp://") {
			a.found("PHP-REMOTE-INCLUDE", wRemoteEval, "include of a remote URL", pos)
		} else if a.caps.remoteFiles[v.s] {
			a.found("PHP-REMOTE-INCLUDE", wRemoteEval, "include of a file downloaded from a remote URL", pos)
		}
		return
	}
	if t&inputBit != 0 {
		first := s
		if a.is(first, "(") {
			first++
		}
		if a.startsFixed(sc, first, e) {
			a.found("PHP-INPUT-INCLUDE-PREFIXED", wInputIncludeP, "include of request input behind a fixed prefix", pos)
		} else {
			a.sinkHit(sinkInclude, "include/require", pos)
		}
	}
	if sc.fn != nil && !a.final {
		sc.fn.sinks[sinkInclude] |= t & paramMask
	}
}

func clipN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// taint computes the taint of the expression [s,e).
func (a *phpAn) taint(sc *phpScope, s, e int) (uint64, bool) {
	var t uint64
	for k := s; k < e && k < len(a.toks); k++ {
		if !a.st.spend(1) {
			return t, false
		}
		tk := &a.toks[k]
		switch tk.k {
		case tVar:
			end, method := a.varEnd(k)
			if end > e {
				end = e
			}
			vt, _, _ := a.varRef(sc, k, end)
			t |= vt
			if method && end < e {
				// $obj->m(args): result of user method summaries, args propagate.
				if f, ok := a.funcs[a.toks[end].l]; ok && a.is(end+1, "(") {
					t |= a.retTaint(sc, f, end+1)
					if m := a.match[end+1]; m > k {
						k = m
					}
					continue
				}
			}
			k = end - 1
		case tStr:
			if hasPHPInput(tk.s) {
				t |= inputBit
			}
			for _, v := range tk.varList() {
				t |= a.nameTaint(sc, v)
			}
		case tExec:
			for _, v := range tk.varList() {
				t |= a.nameTaint(sc, v) & (inputBit | paramMask)
			}
		case tOp:
			// (int)$x and friends: the cast operand carries no taint.
			if tk.s == "(" && k+2 < e && a.toks[k+1].k == tIdent && phpCasts[a.toks[k+1].l] && a.is(k+2, ")") {
				k = a.skipOperand(k+3, e) - 1
			}
		case tIdent:
			if (tk.l == "function" || tk.l == "fn") && !a.is(k-1, "->") && !a.is(k-1, "::") {
				// A closure value: the data it captures is not the value.
				if _, _, be, ok := a.closureAt(k); ok {
					k = be
					continue
				}
			}
			if !a.is(k+1, "(") {
				if ct := a.constTaintOf(tk.s); ct != 0 && !a.is(k-1, "->") && !a.is(k-1, "::") && !a.is(k+1, "::") {
					t |= ct
				}
				continue
			}
			m := a.match[k+1]
			cls := a.callClass(k)
			switch {
			case cls&cSanitizer != 0 && m > k && !(a.escNoSanitize && tk.l == "escapeshellarg"):
				k = m
			case cls&cInputFunc != 0:
				t |= inputBit
				a.caps.input = true
			case cls&cUserFunc != 0 && m > k && !a.isIdent(k-1, "function"):
				f := a.funcs[tk.l]
				t |= a.retTaint(sc, f, k+1)
				if f.decoder {
					t |= decodeBit
				}
				k = m
			case cls&cDecoder != 0:
				t |= decodeBit
			case cls&cRemote != 0 && m > k:
				at, _ := a.taint(sc, k+2, m)
				if v, ok := a.constEval(sc, k+2, m, 0); !ok || at != 0 || isRemoteURL(v.s) {
					t |= remoteBit
				}
			case tk.l == "getenv" && m > k:
				if v, ok := a.constEval(sc, k+2, m, 0); ok && serverInput(v.s) {
					t |= inputBit
				}
			case m > k && !phpTransparent[tk.l] && cls&phpSinkLike == 0 && !a.is(k-1, "->") && !a.is(k-1, "::"):
				// Unknown function: its result is derived from, not equal to,
				// its arguments.
				at, _ := a.taint(sc, k+2, m)
				if at&inputBit != 0 {
					t |= weakBit
				}
				t |= at & (remoteBit | decodeBit | weakBit)
				k = m
			}
		}
	}
	return t, true
}

// retTaint maps a user function's return summary onto the call's arguments.
func (a *phpAn) retTaint(sc *phpScope, f *phpFunc, open int) uint64 {
	a.readSummary(f)
	t := f.ret & (inputBit | remoteBit)
	if f.ret&paramMask == 0 {
		return t
	}
	for i, r := range a.args(open) {
		if i < maxParams && f.ret&(1<<i) != 0 {
			at, _ := a.taint(sc, r[0], r[1])
			t |= at
		}
	}
	return t
}

var phpDecoders = map[string]bool{
	"base64_decode": true, "gzinflate": true, "gzuncompress": true, "gzdecode": true,
	"str_rot13": true, "convert_uudecode": true, "hex2bin": true,
}

// dangerName returns the dangerous function name an assignment's right-hand
// side [rs,re) stores, directly or by copying an array that holds one.
func (a *phpAn) dangerName(sc *phpScope, rs, re int, v constVal, vok bool) string {
	if vok {
		n := dangerousKey(v.s)
		if _, bad := dangerousNames[n]; bad {
			return n
		}
		return ""
	}
	if re == rs+1 && a.toks[rs].k == tVar {
		return sc.arrName[a.toks[rs].s]
	}
	return ""
}

var phpCasts = map[string]bool{"int": true, "integer": true, "float": true, "double": true, "bool": true, "boolean": true}

// phpTransparent functions return (a transformation of) their argument, so
// request input stays request input through them.
var phpTransparent = map[string]bool{
	"trim": true, "ltrim": true, "rtrim": true, "chop": true, "stripslashes": true, "stripcslashes": true,
	"addslashes": true, "base64_decode": true, "gzinflate": true, "gzuncompress": true, "gzdecode": true,
	"str_rot13": true, "strrev": true, "urldecode": true, "rawurldecode": true, "html_entity_decode": true,
	"htmlspecialchars_decode": true, "hex2bin": true, "pack": true, "substr": true, "str_replace": true,
	"str_ireplace": true, "preg_replace": true, "strtolower": true, "strtoupper": true, "ucfirst": true,
	"lcfirst": true, "ucwords": true, "implode": true, "join": true, "explode": true, "sprintf": true,
	"vsprintf": true, "str_pad": true, "strtr": true, "current": true, "reset": true, "end": true,
	"next": true, "array_pop": true, "array_shift": true, "array_values": true, "array_keys": true,
	"array_slice": true, "array_merge": true, "array_reverse": true, "unserialize": true, "json_decode": true,
	"convert_uudecode": true, "iconv": true, "mb_convert_encoding": true, "utf8_decode": true,
	"utf8_encode": true, "strval": true, "escapeshellcmd": true, "array": true, "str_split": true,
	"base64_encode": true, "urlencode": true, "rawurlencode": true, "bin2hex": true, "gzcompress": true,
	"gzdeflate": true, "gzencode": true, "mb_substr": true, "array_map": true, "array_filter": true,
	"array_combine": true, "array_flip": true, "compact": true, "func_get_args": true, "func_get_arg": true,
	"stream_get_contents": true, "fread": true, "fgets": true, "file_get_contents": true, "file": true,
	"array_change_key_case": true, "list": true, "each": true, "key": true, "chr": true, "ord": true,
	"strstr": true, "stristr": true, "strrchr": true, "nl2br": true, "strip_tags": true, "quotemeta": true,
	"mb_strtolower": true, "str_word_count": false, "rtrim_": false, "array_unique": true, "array_splice": true,
}

// phpSinkLike is the call classes of built-ins handled as sinks or
// decoders elsewhere; as expressions they keep their arguments' taint.
const phpSinkLike = cSink | cDecoder | cInputFunc

// skipOperand returns the end of the operand starting at k (a variable
// with its indexes, a call, a literal or a parenthesised group).
func (a *phpAn) skipOperand(k, e int) int {
	if k >= e {
		return e
	}
	switch t := a.toks[k]; {
	case t.k == tVar:
		end, method := a.varEnd(k)
		if method && a.is(end+1, "(") && a.match[end+1] > end {
			end = a.match[end+1] + 1
		}
		return min(end, e)
	case t.k == tIdent && a.is(k+1, "(") && a.match[k+1] > k:
		return min(a.match[k+1]+1, e)
	case t.k == tOp && t.s == "(" && a.match[k] > k:
		return min(a.match[k]+1, e)
	}
	return k + 1
}

// startsFixed reports whether the expression [s,e) begins with a fixed
// non-empty literal, constant or variable holding one (a path prefix).
func (a *phpAn) startsFixed(sc *phpScope, s, e int) bool {
	if s >= e {
		return false
	}
	t := a.toks[s]
	switch t.k {
	case tStr:
		return t.s != "" && !(t.interp && strings.HasPrefix(t.s, "$"))
	case tIdent:
		return !a.is(s+1, "(") || t.l == "dirname" || t.l == "realpath"
	case tVar:
		end, _ := a.varEnd(s)
		if end == s+1 {
			if _, ok := sc.val[t.s]; ok {
				return true
			}
			return sc.prefixed[t.s]
		}
	}
	return false
}

// summaryKey fingerprints function summaries and property taint, to stop
// the fixpoint iteration early once nothing changes.
func (a *phpAn) summaryKey() uint64 {
	var h uint64
	for name, f := range a.funcs {
		x := f.ret + f.writePath*7 + f.writeData*13 + f.dbHost*17
		for _, m := range f.sinks {
			x = x*31 + m
		}
		h += x * uint64(len(name)+1)
	}
	for name, t := range a.props {
		h += t * uint64(len(name)+7)
	}
	return h
}
