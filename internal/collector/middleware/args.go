package middleware

import (
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// maxTokens bounds how many arguments of one process are looked at.
const maxTokens = 4096

// tokens returns the arguments of p. Servers that write a title over
// their argv (nginx, php-fpm, postgres, redis) leave one argument holding
// the whole title; it is split into fields.
func tokens(p *inventory.Process) []string {
	var toks []string
	for _, a := range p.Args {
		if a != "" {
			toks = append(toks, a)
		}
		if len(toks) == maxTokens {
			break
		}
	}
	if len(toks) == 0 {
		toks = strings.Fields(p.Cmdline)
	} else if len(toks) == 1 && strings.ContainsAny(toks[0], " \t") {
		toks = strings.Fields(toks[0])
	}
	if len(toks) > maxTokens {
		toks = toks[:maxTokens]
	}
	return toks
}

// baseNames returns the names p is known by: the base names of its
// executable and argv[0], and its comm, without duplicates.
func baseNames(p *inventory.Process, toks []string) []string {
	var names []string
	add := func(n string) {
		n = strings.TrimSuffix(n, ":") // "nginx: master process"
		if n == "" || n == "." || n == "/" {
			return
		}
		for _, m := range names {
			if m == n {
				return
			}
		}
		names = append(names, n)
	}
	if p.Exe != "" {
		add(path.Base(strings.TrimSuffix(p.Exe, " (deleted)")))
	}
	add(p.Name)
	if len(toks) > 0 {
		add(path.Base(toks[0]))
	}
	return names
}

// nameMatches reports whether name matches pattern, where a trailing
// "*" matches any suffix.
func nameMatches(pattern, name string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return pattern == name
}

// flagValue returns the value given to flag as "flag VALUE" or
// "flag=VALUE". Java system properties ("-Dx") and key=value settings
// ("config_file") only take the "=" form.
func flagValue(toks []string, flag string) (string, bool) {
	sepOnly := len(flag) > 2 && strings.HasPrefix(flag, "-D") || !strings.HasPrefix(flag, "-")
	for i, t := range toks {
		if v, ok := strings.CutPrefix(t, flag+"="); ok {
			return v, true
		}
		if !sepOnly && t == flag && i+1 < len(toks) {
			return toks[i+1], true
		}
	}
	return "", false
}

// javaValueFlags are java launcher options that take the next argument
// as their value.
var javaValueFlags = map[string]bool{
	"-cp": true, "-classpath": true, "--class-path": true, "-p": true, "--module-path": true,
	"--upgrade-module-path": true, "--add-modules": true, "--limit-modules": true,
	"--add-opens": true, "--add-exports": true, "--add-reads": true, "--patch-module": true,
	"--enable-native-access": true,
}

// javaMain returns the main class (or module/class) and the jar run by a
// java command line; one of them is empty.
func javaMain(toks []string) (mainClass, jar string) {
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t == "-jar":
			if i+1 < len(toks) {
				return "", toks[i+1]
			}
			return "", ""
		case t == "-m" || t == "--module":
			if i+1 < len(toks) {
				return toks[i+1], ""
			}
			return "", ""
		case javaValueFlags[t]:
			i++
		case strings.HasPrefix(t, "-"):
		default:
			return t, ""
		}
	}
	return "", ""
}

// classpath returns the entries of a java command line's classpath.
func classpath(toks []string) []string {
	for _, f := range []string{"-cp", "-classpath", "--class-path"} {
		if v, ok := flagValue(toks, f); ok {
			return strings.Split(v, ":")
		}
	}
	return nil
}

// scriptOf returns the script a python or node interpreter runs, or the
// module given to python -m ("-m module"); "" for an interactive
// interpreter or inline code.
func scriptOf(toks []string, app string) (script, module string) {
	valueFlags := map[string]bool{"-W": true, "-X": true, "--check-hash-based-pycs": true}
	if app == appNode {
		valueFlags = map[string]bool{"-r": true, "--require": true, "--import": true, "--loader": true,
			"--experimental-loader": true, "--env-file": true, "--title": true}
	}
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t == "-c" || t == "-e" || t == "--eval" || t == "-p" && app == appNode:
			return "", ""
		case t == "-m" && app == appPython:
			if i+1 < len(toks) {
				return "", toks[i+1]
			}
			return "", ""
		case valueFlags[t]:
			i++
		case t == "--" || t == "-":
			if t == "--" && i+1 < len(toks) {
				return toks[i+1], ""
			}
			return "", ""
		case strings.HasPrefix(t, "-"):
		default:
			return t, ""
		}
	}
	return "", ""
}

// configFromArgs returns the config file a command line names, or "".
func configFromArgs(s *spec, toks []string) string {
	for _, f := range s.configFlags {
		if v, ok := flagValue(toks, f); ok && v != "" {
			if f == "-Des.path.conf" {
				return strings.TrimSuffix(v, "/") + "/elasticsearch.yml"
			}
			return v
		}
	}
	if s.configArg != "" {
		for _, t := range toks[min(1, len(toks)):] {
			if !strings.HasPrefix(t, "-") && strings.HasSuffix(t, s.configArg) {
				return t
			}
		}
	}
	// php-fpm's title: "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)".
	for _, t := range toks {
		if len(t) > 3 && t[0] == '(' && t[1] == '/' && t[len(t)-1] == ')' {
			return t[1 : len(t)-1]
		}
	}
	switch s.name {
	case "tomcat":
		if base, ok := flagValue(toks, "-Dcatalina.base"); ok && base != "" {
			return strings.TrimSuffix(base, "/") + "/conf/server.xml"
		}
	case "postgresql":
		if dir, ok := flagValue(toks, "-D"); ok && dir != "" {
			return strings.TrimSuffix(dir, "/") + "/postgresql.conf"
		}
	}
	return ""
}
