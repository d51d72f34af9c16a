package webshell

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var (
	phpDirList = map[string]bool{"opendir": true, "readdir": true, "scandir": true, "glob": true, "dir": true}
	phpFileMod = map[string]bool{"unlink": true, "rmdir": true, "rename": true, "chmod": true, "touch": true,
		"file_put_contents": true, "fwrite": true, "fputs": true, "move_uploaded_file": true, "copy": true, "mkdir": true}
	phpDB = map[string]bool{"mysql_connect": true, "mysqli_connect": true, "mysql_query": true, "pg_connect": true,
		"mssql_connect": true, "oci_connect": true, "sqlite_open": true, "mysqli": true, "pdo": true, "odbc_connect": true}
	phpRecon = map[string]bool{"php_uname": true, "posix_getpwuid": true, "posix_geteuid": true, "getmyuid": true,
		"disk_free_space": true, "disk_total_space": true, "get_current_user": true, "getmypid": true,
		"posix_uname": true, "sys_getloadavg": true}
	// phpDBConnect maps connection functions to the index of the argument
	// naming the server (host or DSN).
	phpDBConnect = map[string]int{"mysql_connect": 0, "mysql_pconnect": 0, "mysqli_connect": 0,
		"mysqli_real_connect": 1, "pg_connect": 0, "pg_pconnect": 0, "mssql_connect": 0, "sqlsrv_connect": 0,
		"oci_connect": 2, "oci_pconnect": 2, "odbc_connect": 0, "mysqli": 0, "pdo": 0,
		"real_connect": 0, "oci_new_connect": 2, "ibase_connect": 0}
	// phpConnect maps socket functions to the indexes of the host and port
	// arguments (-1: the port is part of the host argument).
	phpConnect = map[string][2]int{"fsockopen": {0, 1}, "pfsockopen": {0, 1}, "socket_connect": {1, 2},
		"stream_socket_client": {0, -1}}
	// phpFileAccess are calls that read, serve or remove the file named by
	// their first argument.
	phpFileAccess = map[string]bool{"unlink": true, "rmdir": true, "readfile": true, "file_get_contents": true,
		"fopen": true, "rename": true, "chmod": true, "highlight_file": true, "show_source": true, "file": true}
	phpReconIni = map[string]bool{"safe_mode": true, "disable_functions": true, "open_basedir": true, "safe_mode_exec_dir": true}
)

// inputCapability records capabilities an anonymous request drives: a
// database connection to a server it names, a socket to a host and port it
// names, mail with its recipients and body, or a directory listing and file
// access at paths it chooses. Benign applications do these things with fixed
// destinations; a page that lets the request choose them is a web shell even
// without eval or exec. Called in the final pass only.
//
// cls holds the classes of name (phpCallClass, callClass).
func (a *phpAn) inputCapability(sc *phpScope, name string, cls callClass, open int) {
	argIn := func(args [][2]int, i int) bool {
		if i < 0 || i >= len(args) {
			return false
		}
		t, _ := a.taint(sc, args[i][0], args[i][1])
		return t&inputBit != 0
	}
	pos := int(a.toks[open].pos)
	if cls&cDBConnect != 0 {
		if args := a.args(open); argIn(args, phpDBConnect[name]) {
			a.found("PHP-INPUT-DB-CONNECT", wInputDB, name+"() to a server named by the request", pos)
		}
	}
	if cls&cConnect != 0 {
		hp := phpConnect[name]
		if args := a.args(open); argIn(args, hp[0]) && (hp[1] < 0 || argIn(args, hp[1])) {
			a.found("PHP-INPUT-CONNECT", wInputConnect, name+"() to a host and port named by the request", pos)
		}
	}
	switch {
	case name == "mail":
		if args := a.args(open); argIn(args, 0) && argIn(args, 2) {
			a.found("PHP-INPUT-MAIL", wInputConnect, "mail() with recipients and body from the request", pos)
		}
	case cls&cDirList != 0 && name != "readdir" || name == "directoryiterator" || name == "recursivedirectoryiterator":
		if args := a.args(open); argIn(args, 0) {
			a.caps.listIn = true
		}
	case cls&cFileAccess != 0:
		if args := a.args(open); argIn(args, 0) {
			a.caps.accessIn = true
		} else if (name == "unlink" || name == "rmdir") && sc.fn == nil && len(args) > 0 {
			if t, _ := a.taint(sc, args[0][0], args[0][1]); t&weakBit != 0 {
				a.caps.weakDelete = true
			}
		}
	}
}

// capability records what a call tells about the file's capabilities.
//
// cls is a.callClass(open-1), the classes of name.
func (a *phpAn) capability(sc *phpScope, name string, cls callClass, open int) {
	if cls&cDBConnect != 0 && sc.fn != nil && !a.final {
		// function connect($host) { mysqli_connect($host, ...); }
		if args, i := a.args(open), phpDBConnect[name]; i < len(args) {
			t, _ := a.taint(sc, args[i][0], args[i][1])
			sc.fn.dbHost |= t & paramMask
		}
	}
	if !a.final {
		return
	}
	switch {
	case cls&cDirList != 0:
		a.caps.dirList = true
	case cls&cDB != 0:
		a.caps.db = true
	case cls&cRecon != 0:
		a.caps.recon[name] = true
	case name == "function_exists" || name == "is_callable":
		if args := a.args(open); len(args) == 1 {
			if v, ok := a.constEval(sc, args[0][0], args[0][1], 0); ok {
				if spec, ok := phpSinks[strings.ToLower(v.s)]; ok && spec.kind == sinkExec {
					a.caps.probed[strings.ToLower(v.s)] = true
				}
			}
		}
	case name == "ini_get" || name == "ini_restore" || name == "ini_set":
		if args := a.args(open); len(args) > 0 {
			if v, ok := a.constEval(sc, args[0][0], args[0][1], 0); ok && phpReconIni[strings.ToLower(v.s)] {
				a.caps.recon[v.s] = true
			}
		}
	}
	if cls&cFileMod != 0 {
		a.caps.fileMod = true
	}
	if cls&cSocketRead != 0 {
		if args := a.args(open); len(args) > 0 && args[0][1] == args[0][0]+1 && a.toks[args[0][0]].k == tVar && a.caps.sockVars[a.toks[args[0][0]].s] {
			a.caps.sockRead = true
		}
	}
	a.inputCapability(sc, name, cls, open)
	if name == "move_uploaded_file" || name == "is_uploaded_file" {
		a.caps.upload = true
	}
	if cls&cExecSink != 0 {
		a.caps.exec = true
	}
}

// callClass is a set of the name tables a function name is in, so that
// capability and inputCapability look a called name up once rather than
// in each table.
type callClass uint16

const (
	cDBConnect  callClass = 1 << iota // phpDBConnect
	cConnect                          // phpConnect
	cDirList                          // phpDirList
	cFileAccess                       // phpFileAccess
	cDB                               // phpDB
	cRecon                            // phpRecon
	cFileMod                          // phpFileMod
	cSocketRead                       // phpSocketRead
	cExecSink                         // phpSinks with kind sinkExec
	cSink                             // phpSinks
	cSanitizer                        // phpSanitizers
	cInputFunc                        // phpInputFuncs
	cDecoder                          // phpDecoders
	cRemote                           // phpRemoteFuncs
	cUserFunc                         // a.funcs (set by phpAn.callClass)
	cKnown                            // set on a token's cls once computed
)

// callClass returns the classes of the identifier token at k, computed on
// first use and, once a.funcs is complete (funcsCollected), kept in the
// token: one call is checked in every summary round and the final pass.
// The token is not shared with another analysis.
func (a *phpAn) callClass(k int) callClass {
	t := &a.toks[k]
	if t.cls&cKnown != 0 {
		return t.cls
	}
	c := phpCallClass[t.l] | cKnown
	if a.funcs[t.l] != nil {
		c |= cUserFunc
	}
	if a.funcsCollected {
		t.cls = c
	}
	return c
}

// phpCallClass maps each name in any of the tables to its classes; a name
// in none is absent (class 0).
var phpCallClass = func() map[string]callClass {
	m := map[string]callClass{}
	for n := range phpDBConnect {
		m[n] |= cDBConnect
	}
	for n := range phpConnect {
		m[n] |= cConnect
	}
	for n, ok := range phpDirList {
		if ok {
			m[n] |= cDirList
		}
	}
	for n, ok := range phpFileAccess {
		if ok {
			m[n] |= cFileAccess
		}
	}
	for n, ok := range phpDB {
		if ok {
			m[n] |= cDB
		}
	}
	for n, ok := range phpRecon {
		if ok {
			m[n] |= cRecon
		}
	}
	for n, ok := range phpFileMod {
		if ok {
			m[n] |= cFileMod
		}
	}
	for n, ok := range phpSocketRead {
		if ok {
			m[n] |= cSocketRead
		}
	}
	for _, t := range []struct {
		names map[string]bool
		c     callClass
	}{{phpSanitizers, cSanitizer}, {phpInputFuncs, cInputFunc}, {phpDecoders, cDecoder}, {phpRemoteFuncs, cRemote}} {
		for n, ok := range t.names {
			if ok {
				m[n] |= t.c
			}
		}
	}
	for n, spec := range phpSinks {
		m[n] |= cSink
		if spec.kind == sinkExec {
			m[n] |= cExecSink
		}
	}
	return m
}()

// literalSignals looks at long literals and long lines.
func (a *phpAn) literalSignals() {
	// One pass: the signals of long literals (BASE64-BLOB, ENTROPY) and
	// those of payloads (SHELL-PAYLOAD, EMBEDDED-EXECUTABLE) have distinct
	// IDs, so interleaving them reports the same evidence as two passes.
	for i := range a.toks {
		t := &a.toks[i]
		if t.k != tStr || len(t.s) < 16 {
			continue
		}
		// isBase64Blob's answer does not depend on its length floor once
		// the literal is longer than the floor.
		blob := len(t.s) >= 256 && isBase64Blob(t.s, 256)
		if len(t.s) >= longLiteral {
			if blob && len(t.s) >= hugeBase64 {
				a.sc.add("PHP-BASE64-BLOB", wBase64Blob, "large base64 literal", snippet(a.src, int(t.pos)))
			}
			if entropy(t.s) >= entropyThreshold {
				a.sc.add("PHP-ENTROPY", wEntropy, "long high-entropy string literal", snippet(a.src, int(t.pos)))
			}
		}
		if shellPayload(t.s) {
			a.sc.add("PHP-SHELL-PAYLOAD", wReverseShell, "string holds a reverse/bind shell", snippet(a.src, int(t.pos)))
		}
		if blob {
			d, ok := a.st.decode("base64_decode", t.s[:min(len(t.s), 64<<10)], decodeBase64)
			if !ok {
				continue
			}
			if strings.HasPrefix(d, "MZ") || strings.HasPrefix(d, "\x7fELF") {
				a.sc.add("PHP-EMBEDDED-EXECUTABLE", wEmbeddedExe, "base64 literal holds an executable", snippet(a.src, int(t.pos)))
			} else if shellPayload(d) {
				a.sc.add("PHP-SHELL-PAYLOAD", wReverseShell, "base64 literal holds a reverse/bind shell", snippet(a.src, int(t.pos)))
			}
		}
	}
	a.encodedNames()
	for start := 0; ; {
		end := len(a.src)
		if j := strings.IndexByte(a.src[start:], '\n'); j >= 0 {
			end = start + j
		}
		if end-start >= longLine {
			a.sc.add("PHP-LONG-LINE", wLongLine, "very long line", snippet(a.src, start))
			return
		}
		if end == len(a.src) {
			return
		}
		start = end + 1
	}
}

// structural scores the shape of a toolkit: command execution, file
// management and a database client or uploader in one request-driven file.
func (a *phpAn) structural() {
	c := a.caps
	if c.exec && c.dirList && c.fileMod && (c.db || c.upload) && c.input {
		a.sc.add("PHP-TOOLKIT", wToolkit, "command execution, file manager and database/upload in one file", "")
	}
	a.decodedNames()
	if c.sockRead && c.execRemote {
		a.sc.add("PHP-SOCKET-SHELL", wReverseShell, "runs commands read from a network socket (reverse/bind shell)", "")
	}
	if c.weakWrite && c.weakDelete {
		a.sc.add("PHP-INDIRECT-FILE-MANAGER", wIndirect, "writes and deletes files at paths held in never-assigned (register_globals) variables", "")
	}
	if c.listIn && c.accessIn {
		a.sc.add("PHP-INPUT-FILE-BROWSER", wFileBrowser, "request input chooses both a directory to list and a file to open or delete", "")
	}
	a.xpathPHPFunctions()
	if len(c.execNames) >= 3 || len(c.probed) >= 2 {
		a.sc.add("PHP-EXEC-FALLBACK", wExecFallback, "tries several command execution functions", "")
	}
	for _, f := range a.funcList {
		if f.sinks[sinkExec]&paramMask != 0 {
			a.sc.add("PHP-EXEC-WRAPPER", wExecWrapper, f.name+"() runs its parameter as a command", "")
			break
		}
	}
	if len(c.recon) >= 2 {
		names := make([]string, 0, len(c.recon))
		for n := range c.recon {
			names = append(names, n)
		}
		sort.Strings(names)
		a.sc.add("PHP-RECON", wRecon, "probes the host and PHP restrictions", strings.Join(names, ","))
	}
}

// shellPayload reports whether s looks like a reverse or bind shell: a
// shell interpreter path together with socket plumbing.
func shellPayload(s string) bool {
	s = s[:min(len(s), 256<<10)]
	if !mayBeShellPayload(s) {
		return false
	}
	l := asciiLower(s)
	if strings.Contains(l, "/dev/tcp/") || strings.Contains(l, "nc -e") || strings.Contains(l, "bash -i >&") {
		return true
	}
	shell := strings.Contains(l, "/bin/sh") || strings.Contains(l, "/bin/bash") || strings.Contains(l, "cmd.exe")
	if !shell {
		return false
	}
	return strings.Contains(l, "socket") && (strings.Contains(l, "connect") || strings.Contains(l, "bind") || strings.Contains(l, "listen") || strings.Contains(l, "dup2"))
}

// xpathFunctionCall matches an XPath/XSLT call of a PHP function by name:
// php:function('system', ...) or php:functionString('assert', ...).
var xpathFunctionCall = regexp.MustCompile(`(?i)function(?:string)?\s*\(\s*\\?['"]\\?([a-z_][a-z0-9_]*)\\?['"]`)

// xpathPHPFunctions flags DOMXPath / XSLTProcessor objects that expose every
// PHP function (registerPHPFunctions() with no allow-list) while the page
// holds an expression calling a code or command sink through them.
func (a *phpAn) xpathPHPFunctions() {
	registered := false
	for k := range a.toks {
		t := &a.toks[k]
		// A string equal to the name under simple case folding has 20 to
		// 60 bytes: the only non-ASCII runes folding to ASCII letters
		// (U+017F to s, U+212A to k) are two and three bytes long.
		if t.k == tIdent && t.l == "registerphpfunctions" && a.is(k+1, "(") && a.is(k+2, ")") ||
			t.k == tStr && len(t.s) >= 20 && len(t.s) <= 60 && strings.EqualFold(t.s, "registerphpfunctions") {
			registered = true
			break
		}
	}
	if !registered {
		return
	}
	for _, m := range xpathFunctionCall.FindAllStringSubmatchIndex(a.src, 64) {
		name := strings.ToLower(a.src[m[2]:m[3]])
		_, bad := dangerousNames[name]
		if _, ok := phpSinks[name]; ok {
			bad = true
		}
		if bad {
			a.sc.add("PHP-XPATH-PHP-CALL", wDynSinkName, "XPath/XSLT calls "+strconv.Quote(name)+" through registerPHPFunctions()", snippet(a.src, m[0]))
			return
		}
	}
}

// encodedNames flags PHP function names hidden in hex or base64 literals
// ("73797374656d", "c3lzdGVt" for system): one command or code sink, or
// several file-system functions, stored encoded only to be decoded and
// called.
func (a *phpAn) encodedNames() {
	found := map[string]bool{}
	sink := ""
	for i := range a.toks {
		t := &a.toks[i]
		if t.k != tStr || len(t.s) < 4 || len(t.s) > 64 {
			continue
		}
		var d string
		var ok bool
		if isHexString(t.s) {
			d, ok = decodeHex(t.s)
		} else if len(t.s)%4 == 0 && isBase64Blob(t.s, 4) {
			d, ok = decodeBase64(t.s)
		}
		if !ok || d == "" {
			continue
		}
		name := strings.ToLower(d)
		kind, bad := dangerousNames[name]
		if spec, isSink := phpSinks[name]; isSink {
			kind, bad = spec.kind, true
		}
		switch {
		case bad && (kind == sinkCode || kind == sinkExec) && sink == "":
			sink = name
			found[name] = true
		case bad || phpFileMod[name] || phpDirList[name] || phpFileRead[name]:
			found[name] = true
		}
	}
	switch {
	case sink != "":
		a.sc.add("PHP-ENCODED-NAME", wComputedCall, "name of "+sink+"() hidden in an encoded literal", "")
	case len(found) >= 3:
		a.sc.add("PHP-ENCODED-NAME", wComputedCall, strconv.Itoa(len(found))+" file-system function names hidden in encoded literals", "")
	}
}

// phpFileRead are file-reading functions a file manager calls.
var phpFileRead = map[string]bool{"file_get_contents": true, "readfile": true, "fopen": true, "is_dir": true, "is_file": true, "filesize": true, "is_writable": true}

// isHexString reports whether s is an even-length run of hex digits.
func isHexString(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// isRemoteURL reports whether s names a resource on another host: a
// stream wrapper PHP fetches over the network.
func isRemoteURL(s string) bool {
	l := strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "ftp://") || strings.HasPrefix(l, "ftps://")
}

// decodesInBody reports whether the function body [s,e) decodes data: it
// calls a decoding built-in (base64_decode, gzinflate, ...) or rebuilds
// characters with chr() from ord() arithmetic, the hand-written decoder
// of packed payloads.
func (a *phpAn) decodesInBody(s, e int) bool {
	chr, ord := false, false
	for k := s; k < e && k < len(a.toks); k++ {
		t := &a.toks[k]
		if t.k != tIdent || !a.is(k+1, "(") || a.is(k-1, "->") || a.is(k-1, "::") {
			continue
		}
		switch {
		case phpDecoders[t.l]:
			return true
		case t.l == "chr":
			chr = true
		case t.l == "ord":
			ord = true
		}
	}
	return chr && ord
}

// fromCallable checks Closure::fromCallable(callable)->__invoke(args): a
// call of the callable with args, like call_user_func. (The form
// Closure::fromCallable(callable)(args) is a call through a computed
// callee, checked by run.)
func (a *phpAn) fromCallable(sc *phpScope, open int) {
	close := a.match[open]
	if close < 0 || !a.is(close+1, "->") || !a.isIdent(close+2, "__invoke") || !a.is(close+3, "(") {
		return
	}
	args := a.args(open)
	if len(args) != 1 {
		return
	}
	r := args[0]
	a.dynCall(sc, r[0], r[1], close+3, r[1] == r[0]+1 && a.toks[r[0]].k == tVar)
}

// inputPathWrite reports whether a write's path [path] is request input
// with no fixed directory in front and its content [data] was fetched or
// decoded at run time: a dropper placing a payload wherever the request
// says.
func (a *phpAn) inputPathWrite(sc *phpScope, path, data [2]int) bool {
	pt, _ := a.taint(sc, path[0], path[1])
	if pt&inputBit == 0 || a.startsFixed(sc, path[0], path[1]) {
		return false
	}
	dt, _ := a.taint(sc, data[0], data[1])
	return dt&(remoteBit|decodeBit) != 0
}

// phpSocketOpen are functions returning a network socket or stream.
var phpSocketOpen = map[string]bool{"fsockopen": true, "pfsockopen": true, "stream_socket_client": true,
	"stream_socket_accept": true, "socket_create": true, "socket_accept": true}

// phpSocketRead are functions reading from the handle in their first argument.
var phpSocketRead = map[string]bool{"fgets": true, "fread": true, "fgetc": true, "stream_get_line": true,
	"stream_get_contents": true, "socket_read": true, "socket_recv": true}

// maxWords caps the names constWords returns.
const maxWords = 256

// constWords returns the constant names the expression [s,e) lists:
// explode(sep, constant) or array('a', 'b', ...) of string literals.
func (a *phpAn) constWords(sc *phpScope, s, e int) []string {
	if s+1 >= e || !a.is(s+1, "(") && !a.is(s, "[") {
		return nil
	}
	switch {
	case a.isIdent(s, "explode") && a.match[s+1] == e-1:
		args := a.args(s + 1)
		if len(args) != 2 {
			return nil
		}
		sep, ok1 := a.constEval(sc, args[0][0], args[0][1], 0)
		v, ok2 := a.constEval(sc, args[1][0], args[1][1], 0)
		if !ok1 || !ok2 || sep.s == "" {
			return nil
		}
		var out []string
		for _, w := range strings.Split(v.s, sep.s) {
			if w = strings.TrimSpace(w); w != "" && len(out) < maxWords {
				out = append(out, w)
			}
		}
		return out
	case a.isIdent(s, "array") && a.match[s+1] == e-1, a.is(s, "[") && a.match[s] == e-1:
		open := s
		if !a.is(s, "[") {
			open = s + 1
		}
		var out []string
		for _, r := range a.args(open) {
			if r[1] != r[0]+1 || a.toks[r[0]].k != tStr || a.toks[r[0]].interp {
				return nil
			}
			if len(out) < maxWords {
				out = append(out, a.toks[r[0]].s)
			}
		}
		return out
	}
	return nil
}

// defaultGuard reports whether the assignment to $name at k is the body
// of "if (!isset($name))" or "if (empty($name))": a default applied only
// when the variable is unset, so it does not replace an earlier value.
func (a *phpAn) defaultGuard(k int, name string) bool {
	p := k - 1
	if a.is(p, "{") {
		p--
	}
	if !a.is(p, ")") || a.match[p] < 0 || !a.isIdent(a.match[p]-1, "if") {
		return false
	}
	guard, named := false, false
	for q := a.match[p] + 1; q < p; q++ {
		t := a.toks[q]
		if t.k == tIdent && (t.l == "isset" || t.l == "empty") {
			guard = true
		}
		if t.k == tVar && t.s == name {
			named = true
		}
	}
	return guard && named
}

// weakArgs reports whether both expressions hold never-assigned (or
// otherwise indirectly request-derived) values and neither holds a
// constant.
func (a *phpAn) weakArgs(sc *phpScope, x, y [2]int) bool {
	xt, _ := a.taint(sc, x[0], x[1])
	yt, _ := a.taint(sc, y[0], y[1])
	return xt&weakBit != 0 && yt&weakBit != 0
}

// phpNoRefArgs are built-ins none of whose arguments is passed by
// reference: a variable in their argument list is read, not assigned.
var phpNoRefArgs = map[string]bool{"fwrite": true, "fputs": true, "file_put_contents": true, "mkdir": true,
	"rename": true, "copy": true, "chmod": true, "unlink": true, "fopen": true, "mail": true, "str_replace": true}

// enclosingCall returns the lower-case name of the function whose
// argument list holds token k ("" when none is found nearby).
func (a *phpAn) enclosingCall(k int) string {
	for p := k - 1; p >= 0 && k-p < 256; p-- {
		switch {
		case a.is(p, ")") || a.is(p, "]") || a.is(p, "}"):
			if m := a.match[p]; m >= 0 && m < p {
				p = m
			}
		case a.is(p, "("):
			if p > 0 && a.toks[p-1].k == tIdent {
				return a.toks[p-1].l
			}
			return ""
		case a.is(p, "[") || a.is(p, "{") || a.is(p, ";"):
			return ""
		}
	}
	return ""
}

// arrayNamesSink returns the code or command sink an array of constants
// names when a callback rebuilds a function name from an element: its
// value, its key, or the two joined either way ("ass" => "ert"). The
// array is the expression [s,e): a literal or a variable assigned one.
func (a *phpAn) arrayNamesSink(sc *phpScope, s, e int) string {
	open := -1
	switch {
	case a.isIdent(s, "array") && a.is(s+1, "(") && a.match[s+1] == e-1:
		open = s + 1
	case a.is(s, "[") && a.match[s] == e-1:
		open = s
	case e == s+1 && a.toks[s].k == tVar:
		open = a.arrayLiteralOf(a.toks[s].s)
	}
	if open < 0 || a.match[open] < 0 {
		return ""
	}
	for _, r := range a.args(open) {
		arrow := -1
		for p := r[0]; p < r[1]; p++ {
			if a.is(p, "=>") {
				arrow = p
				break
			}
		}
		var key, val constVal
		var ok bool
		if arrow >= 0 {
			if key, ok = a.constEval(sc, r[0], arrow, 0); !ok {
				continue
			}
			if val, ok = a.constEval(sc, arrow+1, r[1], 0); !ok {
				continue
			}
		} else if val, ok = a.constEval(sc, r[0], r[1], 0); !ok {
			continue
		}
		for _, cand := range []string{val.s, key.s, key.s + val.s, val.s + key.s} {
			cn := strings.ToLower(cand)
			if kind, bad := dangerousNames[cn]; bad && (kind == sinkCode || kind == sinkExec) && cn != "base64_decode" && cn != "str_rot13" && cn != "gzinflate" {
				return cn
			}
		}
	}
	return ""
}

// minForeignMarkers is how many Perl keywords the code read as PHP after a
// short "<?" tag may hold before it is judged to be Perl, not PHP.
const minForeignMarkers = 5

// phpDominates reports whether the code lexed as PHP is PHP. A full open
// tag ("<?php", "<?=") settles it. A bare "<?" also occurs in other
// languages' source (a Perl regular expression "(<?  # optional <"), and
// everything after it then lexes as "PHP": when that code is full of Perl
// keywords PHP does not have (my, sub, elsif, unless, qw), it is Perl.
func (a *phpAn) phpDominates() bool {
	for i := 0; ; {
		j := strings.Index(a.src[i:], "<?")
		if j < 0 {
			break
		}
		i += j + 2
		if rest := a.src[i:]; strings.HasPrefix(rest, "=") || len(rest) >= 3 && strings.EqualFold(rest[:3], "php") {
			return true
		}
	}
	n := 0
	for k := range a.toks {
		t := &a.toks[k]
		if t.k != tIdent || a.is(k-1, "->") || a.is(k-1, "::") || a.isIdent(k-1, "function") {
			continue
		}
		switch t.l {
		case "my", "sub", "elsif", "unless", "qw":
			if t.l != "sub" || !a.is(k+1, "(") {
				n++
			}
		}
		if n >= minForeignMarkers {
			return false
		}
	}
	return true
}

// minDecodedNames is how many variable names a file must compute through
// its own decoder function before the shape counts as obfuscation.
const minDecodedNames = 8

// decodedNames flags code whose variables are named by a user-defined
// decoder applied to literals (${d("q#7@")} = d("...")): every name is
// hidden, which only packed code does.
func (a *phpAn) decodedNames() {
	n := 0
	for k := 0; k+3 < len(a.toks); k++ {
		if a.toks[k].k != tVar || a.toks[k].s != "" || !a.is(k+1, "{") || a.toks[k+2].k != tIdent || !a.is(k+3, "(") {
			continue
		}
		if f := a.funcs[a.toks[k+2].l]; f != nil && (f.decoder || a.forwardsToDecoder(f)) && a.match[k+3] > k+3 && a.toks[k+4].k == tStr {
			n++
			if n >= minDecodedNames {
				a.sc.add("PHP-DECODED-NAMES", wDecodedNames, "variable names computed by the file's own decoder function", snippet(a.src, int(a.toks[k].pos)))
				return
			}
		}
	}
}

// forwardsToDecoder reports whether f's body only returns a call of a
// decoder function (function b($x) { return d($x); }).
func (a *phpAn) forwardsToDecoder(f *phpFunc) bool {
	s, e := f.body[0], f.body[1]
	if e-s < 3 || !a.isIdent(s, "return") || s+2 >= len(a.toks) || a.toks[s+1].k != tIdent || !a.is(s+2, "(") {
		return false
	}
	g := a.funcs[a.toks[s+1].l]
	return g != nil && g != f && g.decoder
}

// pipeTarget records the variables that receive a process's input pipe:
// proc_open's third argument ($pipes), or the handle popen(..., "w")
// is assigned to ($h = popen("sh", "w")). k is the call's name token.
func (a *phpAn) pipeTarget(name string, k int, args [][2]int) {
	switch name {
	case "proc_open":
		if len(args) >= 3 && a.toks[args[2][0]].k == tVar && a.toks[args[2][0]].s != "" {
			a.caps.pipeVars[a.toks[args[2][0]].s] = true
		}
	case "popen":
		if len(args) < 2 {
			return
		}
		if m := a.toks[args[1][0]]; m.k != tStr || !strings.Contains(m.s, "w") {
			return
		}
		p := k - 1
		if a.is(p, "@") {
			p--
		}
		if a.is(p, "=") && p > 0 && a.toks[p-1].k == tVar && a.toks[p-1].s != "" {
			a.caps.pipeVars[a.toks[p-1].s] = true
		}
	}
}

// shellInterpreter matches a command line that starts a command
// interpreter reading commands from its input.
var shellInterpreter = regexp.MustCompile(`(?i)^\s*(?:["']?(?:[a-z]:)?[\\/\w.-]*[\\/])?(?:sh|bash|dash|zsh|ksh|csh|tcsh|cmd|cmd\.exe|powershell|powershell\.exe|pwsh)["']?(?:\s+(?:-i|-s|/q|/k|-|-noprofile|-command\s+-))*\s*$`)

// shellCommand reports whether the process started with the command [r]
// is a command interpreter: a literal such as "/bin/sh" or "cmd.exe", or
// the COMSPEC / SHELL environment value.
func (a *phpAn) shellCommand(sc *phpScope, r [2]int) bool {
	if v, ok := a.constEval(sc, r[0], r[1], 0); ok {
		return shellInterpreter.MatchString(v.s)
	}
	for p := r[0]; p < r[1] && p < len(a.toks); p++ {
		if t := a.toks[p]; t.k == tStr && (t.s == "COMSPEC" || t.s == "SHELL") {
			return true
		}
	}
	return false
}

// maxOtherFuncs caps the same-named function definitions kept.
const maxOtherFuncs = 256

// dbHostCall applies f's database-connection summary to a call of it: a
// request-chosen argument that becomes the server f connects to.
func (a *phpAn) dbHostCall(sc *phpScope, f *phpFunc, open, pos int) {
	a.readSummary(f)
	if f.dbHost == 0 {
		return
	}
	for i, r := range a.args(open) {
		if i >= maxParams || f.dbHost&(1<<i) == 0 {
			continue
		}
		t, _ := a.taint(sc, r[0], r[1])
		if t&inputBit != 0 {
			a.found("PHP-INPUT-DB-CONNECT", wInputDB, f.name+"() connects to a database server named by the request", pos)
		}
		if sc.fn != nil && !a.final {
			sc.fn.dbHost |= t & paramMask
		}
	}
}

// define records the taint of a constant defined from request input
// (define("SERVER", $_GET["server"])).
func (a *phpAn) define(sc *phpScope, open int) {
	args := a.args(open)
	if len(args) < 2 {
		return
	}
	n, ok := a.constEval(sc, args[0][0], args[0][1], 0)
	if !ok || n.s == "" {
		return
	}
	if v, ok := a.constEval(sc, args[1][0], args[1][1], 0); ok {
		if a.constVals == nil {
			a.constVals = map[string]constVal{}
		}
		if _, dup := a.constVals[n.s]; !dup && len(a.constVals) < maxArrayElems {
			a.constVals[n.s] = v
		}
	}
	t, _ := a.taint(sc, args[1][0], args[1][1])
	if t &= inputBit | remoteBit; t != 0 {
		if a.constTaint == nil {
			a.constTaint = map[string]uint64{}
		}
		a.constTaint[n.s] |= t
	}
}

// arrayLiteralOf returns the opening bracket of the array literal first
// assigned to $name ($name = array(...) or [...]), or -1. The file is
// scanned once for every name.
func (a *phpAn) arrayLiteralOf(name string) int {
	if a.arrayLits == nil {
		a.arrayLits = map[string]int{}
		for k := range a.toks {
			t := &a.toks[k]
			if t.k != tVar || t.s == "" || !a.is(k+1, "=") {
				continue
			}
			if _, seen := a.arrayLits[t.s]; seen {
				continue
			}
			switch {
			case a.isIdent(k+2, "array") && a.is(k+3, "("):
				a.arrayLits[t.s] = k + 3
			case a.is(k+2, "["):
				a.arrayLits[t.s] = k + 2
			default:
				a.arrayLits[t.s] = -1
			}
		}
	}
	if p, ok := a.arrayLits[name]; ok {
		return p
	}
	return -1
}

// bareVarName reads ${name} (open is the "{"): PHP before 8 takes the
// undefined constant name as the string "name", so this is $name.
func (a *phpAn) bareVarName(open int) (constVal, bool) {
	if a.match[open] != open+2 || a.toks[open+1].k != tIdent {
		return constVal{}, false
	}
	if _, def := a.constValOf(a.toks[open+1].s); def {
		return constVal{}, false
	}
	return constVal{s: a.toks[open+1].s}, true
}

// decoderCall reports whether [s,e) is a call of one of the file's own
// decoder functions (a function name decoded at run time).
func (a *phpAn) decoderCall(s, e int) bool {
	if s+1 >= e || a.toks[s].k != tIdent || !a.is(s+1, "(") || a.match[s+1] != e-1 {
		return false
	}
	f := a.funcs[a.toks[s].l]
	return f != nil && f.decoder
}

// maxRemoteFiles caps the saved-download paths remembered.
const maxRemoteFiles = 64

// writtenCode looks at what a write stores: PHP code held in a constant
// (often decoded) is a page the file drops to disk, analysed like a
// decoded layer; a download saved at a fixed path is remembered, so an
// include of that path counts as a remote include.
func (a *phpAn) writtenCode(sc *phpScope, name string, args [][2]int, pos int) {
	if !a.final || len(args) < 2 {
		return
	}
	switch name {
	case "file_put_contents", "fwrite", "fputs":
		if v, ok := a.constEval(sc, args[1][0], args[1][1], 0); ok && strings.Contains(v.s, "<?") {
			a.decodedLayer(v.s, pos, true)
		}
	}
	var dst constVal
	var remote, ok bool
	switch name {
	case "copy":
		src, sok := a.constEval(sc, args[0][0], args[0][1], 0)
		dst, ok = a.constEval(sc, args[1][0], args[1][1], 0)
		remote = sok && isRemoteURL(src.s)
	case "file_put_contents":
		dst, ok = a.constEval(sc, args[0][0], args[0][1], 0)
		t, _ := a.taint(sc, args[1][0], args[1][1])
		remote = t&remoteBit != 0
	}
	if ok && remote && dst.s != "" {
		if a.caps.remoteFiles == nil {
			a.caps.remoteFiles = map[string]bool{}
		}
		if len(a.caps.remoteFiles) < maxRemoteFiles {
			a.caps.remoteFiles[dst.s] = true
		}
	}
}

// maxClosureDepth bounds closures re-run from inside closures.
const maxClosureDepth = 2

// closureAt parses the closure whose "function" or "fn" token is at k:
// its parameter names and body token range [bs,be) (for an arrow
// function, the expression after "=>").
func (a *phpAn) closureAt(k int) (params []string, bs, be int, ok bool) {
	if k < 0 || k >= len(a.toks) || a.toks[k].k != tIdent || a.toks[k].l != "function" && a.toks[k].l != "fn" {
		return nil, 0, 0, false
	}
	p := k + 1
	if a.is(p, "&") {
		p++
	}
	if !a.is(p, "(") || a.match[p] < p {
		return nil, 0, 0, false
	}
	for q := p + 1; q < a.match[p]; q++ {
		if a.toks[q].k == tVar && a.toks[q].s != "" && !a.is(q-1, "=") && len(params) < maxParams {
			params = append(params, a.toks[q].s)
		}
		if m := a.match[q]; m > q {
			q = m
		}
	}
	q := a.match[p] + 1
	if a.toks[k].l == "fn" {
		for q < len(a.toks) && q-p < 64 && !a.is(q, "=>") && !a.is(q, ";") {
			q++
		}
		if !a.is(q, "=>") {
			return nil, 0, 0, false
		}
		return params, q + 1, a.exprEnd(q+1, len(a.toks)), true
	}
	if a.isIdent(q, "use") && a.is(q+1, "(") && a.match[q+1] > q {
		q = a.match[q+1] + 1
	}
	for q < len(a.toks) && q-p < 64 && !a.is(q, "{") && !a.is(q, ";") {
		q++ // ": type"
	}
	if !a.is(q, "{") || a.match[q] < q {
		return nil, 0, 0, false
	}
	return params, q + 1, a.match[q], true
}

// runClosure analyses the body of the closure at k with its parameters
// holding argT (argT[i] for parameter i; with all set, argT[0] for every
// parameter), in a scope that sees the enclosing variables (use()).
func (a *phpAn) runClosure(sc *phpScope, k int, argT []uint64, all bool) {
	if !a.final || a.closureDepth >= maxClosureDepth {
		return
	}
	params, bs, be, ok := a.closureAt(k)
	if !ok || bs >= be || a.closureRuns[k] || !a.st.spend(len(sc.taint)+len(sc.val)) {
		return
	}
	// Once per closure: its parameters only ever get request data here.
	if a.closureRuns == nil {
		a.closureRuns = map[int]bool{}
	}
	a.closureRuns[k] = true
	if a.log != nil {
		a.log.closureRan = true
	}
	ns := newScope(sc.fn)
	for n, t := range sc.taint {
		ns.taint[n] = t
	}
	for n, v := range sc.val {
		ns.val[n] = v
	}
	ns.extracted = sc.extracted
	for i, p := range params {
		switch {
		case all && len(argT) > 0:
			ns.taint[p] = argT[0]
		case i < len(argT):
			ns.taint[p] = argT[i]
		}
		delete(ns.val, p)
	}
	a.closureDepth++
	a.run(ns, bs, be, false)
	a.closureDepth--
}
