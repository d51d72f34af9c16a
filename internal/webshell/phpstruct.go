package webshell

import (
	"regexp"
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
		"oci_connect": 2, "oci_pconnect": 2, "odbc_connect": 0, "mysqli": 0, "pdo": 0}
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
func (a *phpAn) inputCapability(sc *phpScope, name string, open int) {
	argIn := func(args [][2]int, i int) bool {
		if i < 0 || i >= len(args) {
			return false
		}
		t, _ := a.taint(sc, args[i][0], args[i][1])
		return t&inputBit != 0
	}
	pos := a.toks[open].pos
	if i, ok := phpDBConnect[name]; ok {
		if args := a.args(open); argIn(args, i) {
			a.found("PHP-INPUT-DB-CONNECT", wInputDB, name+"() to a server named by the request", pos)
		}
	}
	if hp, ok := phpConnect[name]; ok {
		if args := a.args(open); argIn(args, hp[0]) && (hp[1] < 0 || argIn(args, hp[1])) {
			a.found("PHP-INPUT-CONNECT", wInputConnect, name+"() to a host and port named by the request", pos)
		}
	}
	switch {
	case name == "mail":
		if args := a.args(open); argIn(args, 0) && argIn(args, 2) {
			a.found("PHP-INPUT-MAIL", wInputConnect, "mail() with recipients and body from the request", pos)
		}
	case phpDirList[name] && name != "readdir" || name == "directoryiterator" || name == "recursivedirectoryiterator":
		if args := a.args(open); argIn(args, 0) {
			a.caps.listIn = true
		}
	case phpFileAccess[name]:
		if args := a.args(open); argIn(args, 0) {
			a.caps.accessIn = true
		}
	}
}

// capability records what a call tells about the file's capabilities.
func (a *phpAn) capability(sc *phpScope, name string, open int) {
	if !a.final {
		return
	}
	switch {
	case phpDirList[name]:
		a.caps.dirList = true
	case phpDB[name]:
		a.caps.db = true
	case phpRecon[name]:
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
	if phpFileMod[name] {
		a.caps.fileMod = true
	}
	a.inputCapability(sc, name, open)
	if name == "move_uploaded_file" || name == "is_uploaded_file" {
		a.caps.upload = true
	}
	if spec, ok := phpSinks[name]; ok && spec.kind == sinkExec {
		a.caps.exec = true
	}
}

// literalSignals looks at long literals and long lines.
func (a *phpAn) literalSignals() {
	for _, t := range a.toks {
		if t.k != tStr || len(t.s) < longLiteral {
			continue
		}
		if isBase64Blob(t.s, hugeBase64) {
			a.sc.add("PHP-BASE64-BLOB", wBase64Blob, "large base64 literal", snippet(a.src, t.pos))
		}
		if entropy(t.s) >= entropyThreshold {
			a.sc.add("PHP-ENTROPY", wEntropy, "long high-entropy string literal", snippet(a.src, t.pos))
		}
	}
	for _, t := range a.toks {
		if t.k != tStr || len(t.s) < 16 {
			continue
		}
		if shellPayload(t.s) {
			a.sc.add("PHP-SHELL-PAYLOAD", wReverseShell, "string holds a reverse/bind shell", snippet(a.src, t.pos))
		}
		if len(t.s) >= 256 && isBase64Blob(t.s, 256) {
			d, ok := a.st.decode("base64_decode", t.s[:min(len(t.s), 64<<10)], decodeBase64)
			if !ok {
				continue
			}
			if strings.HasPrefix(d, "MZ") || strings.HasPrefix(d, "\x7fELF") {
				a.sc.add("PHP-EMBEDDED-EXECUTABLE", wEmbeddedExe, "base64 literal holds an executable", snippet(a.src, t.pos))
			} else if shellPayload(d) {
				a.sc.add("PHP-SHELL-PAYLOAD", wReverseShell, "base64 literal holds a reverse/bind shell", snippet(a.src, t.pos))
			}
		}
	}
	a.encodedNames()
	start := 0
	for i := 0; i <= len(a.src); i++ {
		if i == len(a.src) || a.src[i] == '\n' {
			if i-start >= longLine {
				a.sc.add("PHP-LONG-LINE", wLongLine, "very long line", snippet(a.src, start))
				return
			}
			start = i + 1
		}
	}
}

// structural scores the shape of a toolkit: command execution, file
// management and a database client or uploader in one request-driven file.
func (a *phpAn) structural() {
	c := a.caps
	if c.exec && c.dirList && c.fileMod && (c.db || c.upload) && c.input {
		a.sc.add("PHP-TOOLKIT", wToolkit, "command execution, file manager and database/upload in one file", "")
	}
	if c.listIn && c.accessIn {
		a.sc.add("PHP-INPUT-FILE-BROWSER", wFileBrowser, "request input chooses both a directory to list and a file to open or delete", "")
	}
	a.xpathPHPFunctions()
	if len(c.execNames) >= 3 || len(c.probed) >= 2 {
		a.sc.add("PHP-EXEC-FALLBACK", wExecFallback, "tries several command execution functions", "")
	}
	for _, f := range a.funcs {
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
		a.sc.add("PHP-RECON", wRecon, "probes the host and PHP restrictions", strings.Join(names, ","))
	}
}

// shellPayload reports whether s looks like a reverse or bind shell: a
// shell interpreter path together with socket plumbing.
func shellPayload(s string) bool {
	s = s[:min(len(s), 256<<10)]
	if !strings.Contains(s, "/bin/") && !strings.Contains(s, "/dev/tcp") && !strings.Contains(s, "nc -e") && !strings.Contains(s, ".exe") && !strings.Contains(s, ".EXE") {
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
	for k, t := range a.toks {
		if t.k == tIdent && t.l == "registerphpfunctions" && a.is(k+1, "(") && a.is(k+2, ")") ||
			t.k == tStr && strings.EqualFold(t.s, "registerphpfunctions") {
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
	for _, t := range a.toks {
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
