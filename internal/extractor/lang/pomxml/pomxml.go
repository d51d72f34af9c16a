// Package pomxml extracts the dependencies a Maven project declares in its
// pom.xml.
//
// Only what the file itself says is used: no parent POM, BOM import or
// repository is fetched. A dependency's version is its <version>, else the
// version <dependencyManagement> in the same file gives it; ${name}
// references are resolved from <properties>, the project's own coordinates
// (project.version, project.groupId, project.parent.version, ...) and
// nothing else. A dependency whose version stays unknown (an undefined
// property, a version managed by a parent, a range such as "[1.0,2.0)") is
// reported as a problem, never guessed.
package pomxml

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "lang/pomxml"

const (
	// MaxSize bounds the pom.xml files read.
	MaxSize = 16 << 20
	// maxExpand bounds nested property references and the length of a
	// resolved value.
	maxExpand    = 16
	maxValueSize = 4096

	typ       = "maven"
	ecosystem = "Maven"
)

// Extractor reads pom.xml files.
type Extractor struct{}

// New returns the pom.xml extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether the file is named pom.xml.
func (*Extractor) FileRequired(p string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	return path.Base(p) == "pom.xml"
}

// Extract reads one pom.xml.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	data, err := langutil.ReadAll(in.Reader, MaxSize)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", in.Path, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var problems plugin.Problems
	pkgs, err := Parse(in.Path, data, &problems)
	if err != nil {
		return nil, err
	}
	return &inventory.Inventory{Packages: pkgs}, problems.Err()
}

type dependency struct {
	GroupID    string `xml:"groupId"`
	ArtifactID string `xml:"artifactId"`
	Version    string `xml:"version"`
	Type       string `xml:"type"`
	Classifier string `xml:"classifier"`
	Scope      string `xml:"scope"`
}

type project struct {
	XMLName    xml.Name `xml:"project"`
	GroupID    string   `xml:"groupId"`
	ArtifactID string   `xml:"artifactId"`
	Version    string   `xml:"version"`
	Parent     struct {
		GroupID    string `xml:"groupId"`
		ArtifactID string `xml:"artifactId"`
		Version    string `xml:"version"`
	} `xml:"parent"`
	Properties struct {
		Entries []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	} `xml:"properties"`
	Dependencies []dependency `xml:"dependencies>dependency"`
	Managed      []dependency `xml:"dependencyManagement>dependencies>dependency"`
}

// Parse reads a pom.xml at path (relative to the scan root). A file that is
// not a well-formed POM is an error; a dependency without a resolvable
// version is a problem.
func Parse(path string, data []byte, problems *plugin.Problems) ([]inventory.Package, error) {
	var p project
	d := xml.NewDecoder(bytes.NewReader(data))
	// Non-UTF-8 POMs are rare; their ASCII content is read as is.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	if err := d.Decode(&p); err != nil {
		return nil, fmt.Errorf("parse %q: %w", path, err)
	}
	props := map[string]string{}
	for _, e := range p.Properties.Entries {
		props[e.XMLName.Local] = strings.TrimSpace(e.Value)
	}
	version := cmpOr(p.Version, p.Parent.Version)
	group := cmpOr(p.GroupID, p.Parent.GroupID)
	for k, v := range map[string]string{
		"project.version": version, "pom.version": version, "version": version,
		"project.groupId": group, "pom.groupId": group, "groupId": group,
		"project.artifactId": p.ArtifactID, "pom.artifactId": p.ArtifactID, "artifactId": p.ArtifactID,
		"project.parent.version": p.Parent.Version, "parent.version": p.Parent.Version,
		"project.parent.groupId": p.Parent.GroupID, "parent.groupId": p.Parent.GroupID,
	} {
		if v = strings.TrimSpace(v); v != "" {
			props[k] = v
		}
	}
	r := resolver{props: props}

	type key struct{ group, artifact string }
	managed := map[key]string{}
	for _, m := range p.Managed {
		g, err1 := r.expand(m.GroupID)
		a, err2 := r.expand(m.ArtifactID)
		if err1 == nil && err2 == nil && m.Version != "" {
			managed[key{g, a}] = m.Version
		}
	}

	var pkgs []inventory.Package
	seen := map[string]bool{}
	for _, dep := range p.Dependencies {
		g, err := r.expand(dep.GroupID)
		if err != nil {
			problems.Addf("%s: dependency %q: groupId: %v", path, dep.GroupID+":"+dep.ArtifactID, err)
			continue
		}
		a, err := r.expand(dep.ArtifactID)
		if err != nil {
			problems.Addf("%s: dependency %q: artifactId: %v", path, g+":"+dep.ArtifactID, err)
			continue
		}
		name := g + ":" + a
		if g == "" || a == "" || !validCoord(g) || !validCoord(a) {
			problems.Addf("%s: dependency %q: malformed groupId or artifactId", path, name)
			continue
		}
		raw := strings.TrimSpace(dep.Version)
		if raw == "" {
			raw = managed[key{g, a}]
		}
		if raw == "" {
			problems.Addf("%s: dependency %q: no version (managed by a parent POM or BOM, not read)", path, name)
			continue
		}
		v, err := r.expand(raw)
		if err != nil {
			problems.Addf("%s: dependency %q: version %q: %v", path, name, raw, err)
			continue
		}
		if strings.ContainsAny(v, "[](),") {
			problems.Addf("%s: dependency %q: version range %q is not a version", path, name, v)
			continue
		}
		if !validCoord(v) {
			problems.Addf("%s: dependency %q: malformed version %q", path, name, v)
			continue
		}
		if seen[name+"@"+v] {
			continue
		}
		seen[name+"@"+v] = true
		pkgs = append(pkgs, langutil.Package(typ, ecosystem, name, v, langutil.PURL(typ, g, a, v), path))
	}
	return pkgs, nil
}

func cmpOr(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

// validCoord rejects values no Maven coordinate has: whitespace, ":", "/"
// and control bytes.
func validCoord(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == ':' || r == '/' || r == 0x7f {
			return false
		}
	}
	return s != ""
}

type resolver struct {
	props map[string]string
}

// expand replaces ${name} references, recursively to maxExpand levels.
func (r resolver) expand(s string) (string, error) {
	s = strings.TrimSpace(s)
	for range maxExpand {
		i := strings.Index(s, "${")
		if i < 0 {
			return s, nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated property reference in %q", s)
		}
		name := s[i+2 : i+j]
		v, ok := r.props[name]
		if !ok {
			return "", fmt.Errorf("undefined property %q", name)
		}
		s = s[:i] + v + s[i+j+1:]
		if len(s) > maxValueSize {
			return "", fmt.Errorf("property %q expands beyond %d bytes", name, maxValueSize)
		}
	}
	if strings.Contains(s, "${") {
		return "", fmt.Errorf("property references nest deeper than %d", maxExpand)
	}
	return s, nil
}
