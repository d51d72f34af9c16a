package pomxml

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

func TestFileRequired(t *testing.T) {
	fsys := fstest.MapFS{"d/pom.xml": {Mode: fs.ModeDir}}
	dirInfo, _ := fs.Stat(fsys, "d/pom.xml")
	tests := []struct {
		name string
		path string
		info fs.FileInfo
		want bool
	}{
		{name: "root", path: "pom.xml", want: true},
		{name: "module", path: "src/app/pom.xml", want: true},
		{name: "other_xml", path: "src/app/build.xml"},
		{name: "in_jar_name", path: "x.pom.xml"},
		{name: "directory", path: "d/pom.xml", info: dirInfo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := New().FileRequired(tc.path, tc.info); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func mvn(g, a, v, loc string) inventory.Package {
	return inventory.Package{Name: g + ":" + a, Version: v, Type: "maven", Ecosystem: "Maven",
		PURL: "pkg:maven/" + g + "/" + a + "@" + v, Locations: []string{loc}}
}

func problemsOf(err error) []string {
	var pe *plugin.PartialError
	if errors.As(err, &pe) {
		return pe.Problems
	}
	return nil
}

func TestExtract(t *testing.T) {
	const loc = "testdata/pom.xml"
	fsys := os.DirFS(".")
	f, err := fsys.Open(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inv, err := New().Extract(context.Background(), &extractor.ScanInput{FS: fsys, Path: loc, Reader: f})
	want := []inventory.Package{
		mvn("org.apache.logging.log4j", "log4j-core", "2.14.1", loc),
		mvn("com.fasterxml.jackson.core", "jackson-databind", "2.12.3", loc),
		mvn("org.yaml", "snakeyaml", "1.28", loc),
		mvn("com.example", "inventory-api", "1.4.0-SNAPSHOT", loc),
		mvn("junit", "junit", "4.12", loc),
	}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("Extract mismatch (-want +got):\n%s", diff)
	}
	wantProblems := []string{
		`testdata/pom.xml: dependency "org.springframework.boot:spring-boot-starter-web": no version (managed by a parent POM or BOM, not read)`,
		`testdata/pom.xml: dependency "commons-io:commons-io": version "${commons-io.version}": undefined property "commons-io.version"`,
	}
	if diff := cmp.Diff(wantProblems, problemsOf(err)); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
}

func TestParse(t *testing.T) {
	const loc = "pom.xml"
	dep := func(g, a, v string) string {
		return "<dependency><groupId>" + g + "</groupId><artifactId>" + a + "</artifactId><version>" + v + "</version></dependency>"
	}
	pom := func(head, deps string) string {
		return "<project>" + head + "<dependencies>" + deps + "</dependencies></project>"
	}
	tests := []struct {
		name     string
		in       string
		want     []inventory.Package
		problems []string
		err      bool
	}{
		{
			name: "parent_version_as_project_version",
			in:   pom("<parent><groupId>g</groupId><artifactId>p</artifactId><version>3.0</version></parent>", dep("g", "a", "${project.version}")),
			want: []inventory.Package{mvn("g", "a", "3.0", loc)},
		},
		{
			name: "two_references_in_one_version",
			in:   pom("<properties><major>1</major><minor>2</minor></properties>", dep("g", "a", "${major}.${minor}.0")),
			want: []inventory.Package{mvn("g", "a", "1.2.0", loc)},
		},
		{
			name:     "cyclic_properties",
			in:       pom("<properties><a>${b}</a><b>${a}</b></properties>", dep("g", "x", "${a}")),
			problems: []string{`pom.xml: dependency "g:x": version "${a}": property references nest deeper than 16`},
		},
		{
			name:     "version_range",
			in:       pom("", dep("g", "a", "[1.0,2.0)")),
			problems: []string{`pom.xml: dependency "g:a": version range "[1.0,2.0)" is not a version`},
		},
		{
			name:     "unterminated_reference",
			in:       pom("", dep("g", "a", "${oops")),
			problems: []string{`pom.xml: dependency "g:a": version "${oops": unterminated property reference in "${oops"`},
		},
		{
			name:     "undefined_group_property",
			in:       pom("", dep("${grp}", "a", "1")),
			problems: []string{`pom.xml: dependency "${grp}:a": groupId: undefined property "grp"`},
		},
		{
			name:     "missing_artifact",
			in:       pom("", "<dependency><groupId>g</groupId><version>1</version></dependency>"),
			problems: []string{`pom.xml: dependency "g:": malformed groupId or artifactId`},
		},
		{
			name: "whitespace_trimmed_and_duplicates_dropped",
			in:   pom("", "<dependency>\n <groupId> g </groupId>\n <artifactId>a\n</artifactId><version> 1.0 </version></dependency>"+dep("g", "a", "1.0")),
			want: []inventory.Package{mvn("g", "a", "1.0", loc)},
		},
		{
			name: "namespace_and_no_dependencies",
			in:   `<project xmlns="http://maven.apache.org/POM/4.0.0"><groupId>g</groupId></project>`,
		},
		{name: "not_xml", in: "plain text", err: true},
		{name: "not_a_project", in: "<settings></settings>", err: true},
		{name: "unclosed", in: "<project><dependencies>", err: true},
		{name: "external_entity_not_expanded", in: `<!DOCTYPE project [<!ENTITY x SYSTEM "file:///etc/passwd">]><project><version>&x;</version></project>`, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var problems plugin.Problems
			got, err := Parse(loc, []byte(tc.in), &problems)
			if (err != nil) != tc.err {
				t.Fatalf("Parse error = %v, want error %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.problems, problemsOf(problems.Err())); diff != "" {
				t.Errorf("problems mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtractErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{name: "too_large", data: bytes.Repeat([]byte(" "), MaxSize+1)},
		{name: "not_xml", data: []byte("{}")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := New().Extract(context.Background(), &extractor.ScanInput{Path: "a/pom.xml", Reader: bytes.NewReader(tc.data)})
			if err == nil || inv != nil || !strings.Contains(err.Error(), `"a/pom.xml"`) {
				t.Errorf("Extract = %v, %v; want an error naming the file", inv, err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/pom.xml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("<project><properties><a>${b}</a><b>${a}</b></properties><dependencies><dependency><groupId>g</groupId>" +
		"<artifactId>a</artifactId><version>${a}.${project.version}</version></dependency></dependencies></project>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var problems plugin.Problems
		pkgs, err := Parse("pom.xml", data, &problems)
		if err != nil {
			if pkgs != nil || problems.Len() != 0 {
				t.Fatal("Parse returned results with an error")
			}
			return
		}
		// Each dependency element has "dependency" in its start tag.
		deps := bytes.Count(data, []byte("dependency"))
		if len(pkgs)+problems.Len() > deps {
			t.Fatalf("%d packages and %d problems from %d dependency elements", len(pkgs), problems.Len(), deps)
		}
		for _, p := range pkgs {
			if strings.Contains(p.Version, "${") || !validCoord(p.Version) || strings.Count(p.Name, ":") != 1 {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}
