package middleware

import (
	"context"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestFindOwners(t *testing.T) {
	debian := os.DirFS(testutil.TxtarToDir(t, "testdata/debian.txtar"))
	alpine := os.DirFS(testutil.TxtarToDir(t, "testdata/alpine.txtar"))
	tests := []struct {
		name  string
		root  string
		paths []string
		hints []string
		want  map[string]owner
	}{
		{
			name:  "debian",
			paths: []string{"/usr/sbin/nginx", "/usr/bin/redis-check-rdb", "/usr/lib/postgresql/15/bin/postgres", "/opt/custom/bin/app"},
			hints: []string{"nginx", "redis-server"},
			want: map[string]owner{
				"/usr/sbin/nginx":                     {pkg: "nginx", typ: "deb"},
				"/usr/bin/redis-check-rdb":            {pkg: "redis-tools", typ: "deb"},
				"/usr/lib/postgresql/15/bin/postgres": {pkg: "postgresql-15", typ: "deb"},
			},
		},
		{
			// bash.list records /bin/bash; the kernel reports /usr/bin/bash.
			name:  "debian_usr_merge",
			paths: []string{"/usr/bin/bash"},
			want:  map[string]owner{"/usr/bin/bash": {pkg: "bash", typ: "deb"}},
		},
		{
			name:  "alpine",
			root:  "alpine",
			paths: []string{"/usr/sbin/nginx", "/usr/bin/redis-server", "/lib/ld-musl-x86_64.so.1", "/usr/bin/missing"},
			want: map[string]owner{
				"/usr/sbin/nginx":          {pkg: "nginx", typ: "apk", vers: "1.24.0-r15"},
				"/usr/bin/redis-server":    {pkg: "redis", typ: "apk", vers: "7.2.4-r0"},
				"/lib/ld-musl-x86_64.so.1": {pkg: "musl", typ: "apk", vers: "1.2.4_git20230717-r4"},
			},
		},
		{name: "nothing_asked", want: map[string]owner{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := debian
			if tc.root == "alpine" {
				root = alpine
			}
			var problems plugin.Problems
			got := findOwners(context.Background(), root, tc.paths, tc.hints, &problems)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(owner{})); diff != "" {
				t.Errorf("findOwners mismatch (-want +got):\n%s", diff)
			}
			if problems.Len() != 0 {
				t.Errorf("problems: %v", problems.Err())
			}
		})
	}
}

func TestFindOwnersLongLine(t *testing.T) {
	root := fstest.MapFS{
		"var/lib/dpkg/info/broken.list": {Data: []byte("/usr\n/" + strings.Repeat("x", 70<<10) + "\n/usr/sbin/nginx\n")},
		"var/lib/dpkg/info/nginx.list":  {Data: []byte("/usr\n/usr/sbin/nginx\n")},
	}
	var problems plugin.Problems
	got := findOwners(context.Background(), root, []string{"/usr/sbin/nginx"}, nil, &problems)
	if got["/usr/sbin/nginx"].pkg != "nginx" {
		t.Errorf("owner = %+v, want nginx", got["/usr/sbin/nginx"])
	}
	if problems.Len() != 1 || !strings.Contains(problems.Err().Error(), "broken.list") {
		t.Errorf("problems = %v, want one naming broken.list", problems.Err())
	}
}

func FuzzAPKInstalled(f *testing.F) {
	b, err := os.ReadFile("testdata/alpine.txtar")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b), "/usr/sbin/nginx")
	f.Add("P:a\nV:1\nF:usr/bin\nR:a\n\nP:b\nR:b\n", "/usr/bin/a")
	f.Add("R:x\nF:\nR:y\n", "/y")
	f.Fuzz(func(t *testing.T, db, want string) {
		wantMap := map[string]string{}
		for _, a := range altPaths(want) {
			wantMap[a] = want
		}
		calls := 0
		err := scanAPKInstalled(strings.NewReader(db), wantMap, func(p string, o owner) {
			calls++
			if p != want {
				t.Fatalf("owner for %q, which was not asked for", p)
			}
			if o.pkg == "" || o.typ != "apk" {
				t.Fatalf("bad owner %+v", o)
			}
			if !strings.Contains(db, "P:"+o.pkg) {
				t.Fatalf("package %q not in the database", o.pkg)
			}
		})
		if calls > 1 {
			t.Fatalf("%d owners for one path", calls)
		}
		if calls == 1 && len(wantMap) != 0 {
			t.Fatalf("found path still wanted: %v", wantMap)
		}
		if err != nil && !strings.Contains(err.Error(), "too long") {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func FuzzDpkgList(f *testing.F) {
	b, err := os.ReadFile("/var/lib/dpkg/info/dpkg.list")
	if err == nil {
		f.Add(string(b), "/usr/bin/dpkg")
	}
	f.Add("/.\n/bin\n/bin/bash\n", "/usr/bin/bash")
	f.Add("/usr/sbin/nginx\r\n", "/usr/sbin/nginx")
	f.Fuzz(func(t *testing.T, list, want string) {
		wantMap := map[string]string{}
		for _, a := range altPaths(want) {
			wantMap[a] = want
		}
		found := false
		scanDpkgList(strings.NewReader(list), wantMap, func(p string) {
			if found || p != want {
				t.Fatalf("found %q (again?)", p)
			}
			found = true
		})
		inList, longLine := false, false
		var lines []string // as bufio.ScanLines splits them
		if list != "" {
			lines = strings.Split(strings.TrimSuffix(list, "\n"), "\n")
		}
		for _, line := range lines {
			longLine = longLine || len(line) >= 64<<10
			for _, a := range altPaths(want) {
				inList = inList || strings.TrimSuffix(line, "\r") == a
			}
		}
		if found && !inList {
			t.Fatalf("found %q, which is not a line of the list", want)
		}
		if inList && !longLine && !found {
			t.Fatalf("%q is a line of the list but was not found", want)
		}
	})
}
