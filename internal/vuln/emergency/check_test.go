package emergency

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadBad(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"unknown-key.yml", "testdata/bad/unknown-key.yml:6: field packge not found in type emergency.rawRule"},
		{"bad-version.yml", "testdata/bad/bad-version.yml:12: Debian:12 \"openssh\": range 1 event 1: fixed: invalid version \"a:1.0\": Debian version: failed to convert a to a number"},
		{"bad-severity.yml", "testdata/bad/bad-severity.yml:3: severity \"urgent\": want low, medium, high or critical"},
		{"two-conditions.yml", "testdata/bad/two-conditions.yml:6: a condition has exactly one of process_listening, process_running, file_exists, file_contains, archive_contains, not, any; got 2"},
		{"bad-regex.yml", "testdata/bad/bad-regex.yml:6: regex: error parsing regexp: missing closing ): `LoginGraceTime (`"},
		{"bad-glob.yml", "testdata/bad/bad-glob.yml:5: path_glob: pattern \"opt/**x/*.jar\": '**' must be a whole path element"},
		{"relative-path.yml", "testdata/bad/relative-path.yml:5: path \"etc/passwd\": want an absolute path inside the scanned root"},
		{"unknown-ecosystem.yml", "testdata/bad/unknown-ecosystem.yml:5: ecosystem \"Gentoo\": no version ordering known"},
		{"syntax.yml", "testdata/bad/syntax.yml:4: did not find expected node content"},
		{"missing-title.yml", "testdata/bad/missing-title.yml:1: missing title"},
		{"exposed-running.yml", "testdata/bad/exposed-running.yml:5: exposed applies to process_listening only"},
		{"nothing.yml", "testdata/bad/nothing.yml:1: a check needs affected rules, conditions or both"},
		{"fixed-below.yml", "testdata/bad/fixed-below.yml:7: fixed \"1.5\" is not above introduced \"2.0\""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata/bad", tt.file))
			if err == nil {
				t.Fatal("Load: no error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
