package webshell

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// maxConfigSize caps how much of one web server config file is read.
const maxConfigSize = 1 << 20

// DiscoverRoots returns the web roots configured on the system whose
// filesystem is root (an fs.FS rooted at "/": paths have no leading slash).
// It reads nginx (root, alias under etc/nginx), Apache (DocumentRoot, Alias
// under etc/apache2 and etc/httpd) and Tomcat (appBase in server.xml, plus
// var/lib/tomcat*/webapps), and adds var/www. Only directories that exist
// are returned, as absolute paths ("/var/www/html"), sorted and
// de-duplicated. Paths containing server variables ($host) are cut at the
// first variable, since the scanner walks the prefix anyway. Unreadable
// config files are skipped: discovery is best effort.
func DiscoverRoots(root fs.FS) []string {
	found := map[string]bool{}
	addDir := func(p string) {
		p = cleanAbs(p)
		if p == "" || p == "/" {
			return
		}
		if fi, err := fs.Stat(root, strings.TrimPrefix(p, "/")); err == nil && fi.IsDir() {
			found[p] = true
		}
	}
	eachFile(root, "etc/nginx", func(name string, data []byte) {
		for _, p := range nginxRoots(data) {
			addDir(p)
		}
	})
	for _, dir := range []string{"etc/apache2", "etc/httpd"} {
		eachFile(root, dir, func(name string, data []byte) {
			for _, p := range apacheRoots(data) {
				addDir(p)
			}
		})
	}
	// Tomcat: appBase is relative to CATALINA_BASE, the parent of conf/.
	var tomcatConfs []string
	for _, g := range []string{"etc/tomcat*/server.xml", "var/lib/tomcat*/conf/server.xml", "opt/tomcat*/conf/server.xml", "usr/share/tomcat*/conf/server.xml"} {
		m, _ := fs.Glob(root, g)
		tomcatConfs = append(tomcatConfs, m...)
	}
	for _, conf := range tomcatConfs {
		data, err := readConfig(root, conf)
		if err != nil {
			continue
		}
		base := "/" + path.Dir(path.Dir(conf))
		if strings.HasPrefix(conf, "etc/") {
			// Debian: /etc/tomcatN is linked from /var/lib/tomcatN/conf.
			base = "/var/lib/" + path.Base(path.Dir(conf))
		}
		for _, ab := range appBases(data) {
			if !strings.HasPrefix(ab, "/") {
				ab = path.Join(base, ab)
			}
			addDir(ab)
		}
	}
	if m, _ := fs.Glob(root, "var/lib/tomcat*/webapps"); len(m) > 0 {
		for _, p := range m {
			addDir("/" + p)
		}
	}
	addDir("/var/www")
	out := make([]string, 0, len(found))
	for p := range found {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// eachFile calls fn for every regular file (or symlink to one) under dir.
func eachFile(root fs.FS, dir string, fn func(name string, data []byte)) {
	_ = fs.WalkDir(root, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		data, err := readConfig(root, p)
		if err == nil {
			fn(p, data)
		}
		return nil
	})
}

func readConfig(root fs.FS, name string) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, errors.New("is a directory")
	}
	var b bytes.Buffer
	buf := make([]byte, 32<<10)
	for b.Len() < maxConfigSize {
		n, err := f.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.Bytes(), nil
}

// cleanAbs normalises a configured path: quotes removed, cut at the first
// variable, made absolute and cleaned. Relative paths return "".
func cleanAbs(p string) string {
	p = strings.Trim(strings.TrimSpace(p), `"'`)
	if i := strings.IndexAny(p, "$%"); i >= 0 {
		p = p[:i]
	}
	if !strings.HasPrefix(p, "/") {
		return ""
	}
	return path.Clean(p)
}

// nginxRoots extracts the arguments of root and alias directives.
func nginxRoots(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		// Several directives may share a line: split on ';' and braces.
		for _, stmt := range strings.FieldsFunc(line, func(r rune) bool { return r == ';' || r == '{' || r == '}' }) {
			f := strings.Fields(stmt)
			if len(f) == 2 && (f[0] == "root" || f[0] == "alias") {
				out = append(out, f[1])
			}
		}
	}
	return out
}

// apacheRoots extracts DocumentRoot and Alias targets.
func apacheRoots(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := splitQuoted(line)
		if len(f) == 0 {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "documentroot":
			if len(f) >= 2 {
				out = append(out, f[1])
			}
		case "alias", "scriptalias":
			if len(f) >= 3 {
				out = append(out, f[2])
			}
		}
	}
	return out
}

// splitQuoted splits on spaces, keeping "quoted strings" together.
func splitQuoted(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			if j := strings.IndexByte(s[1:], '"'); j >= 0 {
				out = append(out, s[1:j+1])
				s = s[j+2:]
				continue
			}
		}
		j := strings.IndexAny(s, " \t")
		if j < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:j])
		s = s[j:]
	}
	return out
}

var appBaseRe = regexp.MustCompile(`(?i)\bappBase\s*=\s*["']([^"']+)["']`)

// appBases extracts Host appBase attributes from a Tomcat server.xml,
// ignoring XML comments.
func appBases(data []byte) []string {
	s := string(data)
	for {
		i := strings.Index(s, "<!--")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "-->")
		if j < 0 {
			s = s[:i]
			break
		}
		s = s[:i] + s[i+j+3:]
	}
	var out []string
	for _, m := range appBaseRe.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}
