package middleware

import (
	"archive/zip"
	"bufio"
	"bytes"
	"debug/buildinfo"
	"errors"
	"io"
	"path"
	"regexp"
	"strings"
)

// maxJarEntry bounds how much of one jar entry (a manifest or a
// properties file) is read.
const maxJarEntry = 1 << 20

// jarVersion reads the version of a jar: Tomcat's ServerInfo.properties
// in catalina.jar, else the manifest's Implementation-Version or
// Bundle-Version, else the version of a Maven pom.properties. details
// receives facts worth reporting (server.number).
func jarVersion(r io.ReaderAt, size int64, details map[string]string) (string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return "", err
	}
	var manifest, pom, serverInfo *zip.File
	for _, f := range zr.File {
		switch {
		case f.Name == "org/apache/catalina/util/ServerInfo.properties":
			serverInfo = f
		case f.Name == "META-INF/MANIFEST.MF":
			manifest = f
		case pom == nil && strings.HasPrefix(f.Name, "META-INF/maven/") && path.Base(f.Name) == "pom.properties":
			pom = f
		}
	}
	if serverInfo != nil {
		props, err := readZipEntry(serverInfo, parseProperties)
		if err != nil {
			return "", err
		}
		if n := props["server.number"]; n != "" {
			details["server_number"] = n
		}
		// server.info is "Apache Tomcat/9.0.70" (distributions may
		// append " (Debian)"); server.number pads it: "9.0.70.0".
		if _, v, ok := strings.Cut(props["server.info"], "/"); ok {
			if v, _, _ = strings.Cut(v, " "); v != "" {
				return v, nil
			}
		}
		if n := props["server.number"]; n != "" {
			return n, nil
		}
	}
	if manifest != nil {
		m, err := readZipEntry(manifest, parseManifest)
		if err != nil {
			return "", err
		}
		for _, k := range []string{"Implementation-Version", "Bundle-Version"} {
			if v := m[k]; v != "" {
				return v, nil
			}
		}
	}
	if pom != nil {
		props, err := readZipEntry(pom, parseProperties)
		if err != nil {
			return "", err
		}
		return props["version"], nil
	}
	return "", nil
}

func readZipEntry(f *zip.File, parse func(io.Reader) map[string]string) (map[string]string, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return parse(io.LimitReader(rc, maxJarEntry)), nil
}

// parseProperties reads a Java .properties file: key=value or key:value
// lines, with # and ! comments. Line continuations and escapes, which
// version files do not use, are not interpreted.
func parseProperties(r io.Reader) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxJarEntry)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			continue
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out
}

// parseManifest reads the main section of a jar manifest: "Name: value"
// lines, where a line starting with a space continues the previous one.
func parseManifest(r io.Reader) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxJarEntry)
	var last string
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break // end of the main section
		}
		if line[0] == ' ' {
			if last != "" {
				out[last] += line[1:]
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			last = ""
			continue
		}
		last = strings.TrimSpace(k)
		out[last] = strings.TrimSpace(v)
	}
	return out
}

// ldflagsVersion finds "-X <pkg>/version.Version=v1.7.2" or Docker's
// "-X github.com/docker/docker/dockerversion.Version=20.10.24" in a Go
// binary's -ldflags.
var ldflagsVersion = regexp.MustCompile(`-X "?[\w./-]*version\.Version=([^"\s]+)`)

// goVersion returns the version in a Go binary's build information: the
// main module's version, or the one its -ldflags set.
func goVersion(r io.ReaderAt) (string, error) {
	bi, err := buildinfo.Read(r)
	if err != nil {
		return "", err
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return strings.TrimPrefix(v, "v"), nil
	}
	for _, s := range bi.Settings {
		if s.Key != "-ldflags" {
			continue
		}
		if m := ldflagsVersion.FindStringSubmatch(s.Value); m != nil {
			return strings.TrimPrefix(m[1], "v"), nil
		}
	}
	return "", nil
}

const (
	// scanChunk is how much of a binary is searched at a time; scanOverlap
	// is kept from the previous chunk so a match may straddle two.
	scanChunk   = 1 << 20
	scanOverlap = 256
	// maxScan bounds how much of a binary is searched.
	maxScan = 256 << 20
)

var errScanLimit = errors.New("version not found in the first 256 MiB")

// scanVersion streams r looking for re, whose first group is the version.
func scanVersion(r io.Reader, re *regexp.Regexp) (string, error) {
	buf := make([]byte, scanOverlap+scanChunk)
	kept, total := 0, 0
	for total < maxScan {
		n, err := io.ReadFull(r, buf[kept:])
		total += n
		if m := re.FindSubmatch(buf[:kept+n]); m != nil {
			return string(m[1]), nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		kept = copy(buf, buf[kept+n-scanOverlap:kept+n])
	}
	return "", errScanLimit
}

// readerAtOf returns r as an io.ReaderAt, reading it into memory when it
// is not one and not larger than limit.
func readerAtOf(r io.Reader, size, limit int64) (io.ReaderAt, bool) {
	if ra, ok := r.(io.ReaderAt); ok {
		return ra, true
	}
	if size > limit {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, false
	}
	return bytes.NewReader(b), true
}
