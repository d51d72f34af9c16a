package ransom

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/backup"
	"github.com/vigilsec/vigil/internal/testutil"
)

// writeTree writes n realistic files into 4 subdirectories of dir and
// returns path → SHA-256.
func writeTree(t *testing.T, dir string, n int) map[string]string {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(n), 3))
	words := strings.Fields("the server log shows customer invoice payment overdue contract renewal approved " +
		"budget meeting minutes action items quarterly results backup restore policy incident report")
	exts := []string{".txt", ".csv", ".log", ".json", ".docx", ".xlsx", ".pdf", ".jpg", ".md", ".conf"}
	out := map[string]string{}
	for i := range n {
		ext := exts[i%len(exts)]
		p := filepath.Join(dir, fmt.Sprintf("dept%d", i%4), fmt.Sprintf("%s_%03d%s", words[r.IntN(len(words))], i, ext))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var b []byte
		switch ext {
		case ".docx", ".xlsx", ".pdf", ".jpg":
			var err error
			if b, err = DecoyContent(filepath.Base(p)); err != nil {
				t.Fatal(err)
			}
		default:
			var sb strings.Builder
			for sb.Len() < 500+r.IntN(20000) {
				sb.WriteString(words[r.IntN(len(words))])
				sb.WriteByte(" \n,"[r.IntN(3)])
			}
			b = []byte(sb.String())
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out[p] = hashFile(t, p)
	}
	return out
}

func hashFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

type env struct {
	root, prot string
	files      map[string]string
	store      *backup.Store
	g          *Guard
	alerts     chan *alert.Alert
}

func setup(t *testing.T, nfiles int) *env {
	t.Helper()
	testutil.RequireRoot(t)
	e := &env{root: t.TempDir(), alerts: make(chan *alert.Alert, 16)}
	e.prot = filepath.Join(e.root, "protected")
	e.files = writeTree(t, e.prot, nfiles)
	var err error
	if e.store, err = backup.Open(backup.Config{Dir: filepath.Join(e.root, "data", "backup")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.Snapshot(context.Background(), []string{e.prot}); err != nil {
		t.Fatal(err)
	}
	decoyDirs := []string{e.prot}
	for i := range 4 {
		decoyDirs = append(decoyDirs, filepath.Join(e.prot, fmt.Sprintf("dept%d", i)))
	}
	e.g, err = New(Config{DecoyDirs: decoyDirs, ProtectedDirs: []string{e.prot}, Backup: e.store,
		Host: "test", Emit: func(a *alert.Alert) { e.alerts <- a },
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.g.Start(ctx); err != nil {
		cancel()
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
			testutil.Require(t, "VIGIL_REQUIRE_ROOT", false, "fanotify permission events unavailable: "+err.Error())
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		e.g.Close()
		e.g.Wait()
	})
	return e
}

var lockerBin string

func buildLocker(t *testing.T) string {
	t.Helper()
	if lockerBin != "" {
		return lockerBin
	}
	gobin := testutil.RequireCommand(t, "go")
	out := filepath.Join(os.TempDir(), fmt.Sprintf("vigil-locker-%d", os.Getpid()))
	cmd := exec.Command(gobin, "build", "-o", out, "./testdata/locker")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build locker: %v\n%s", err, b)
	}
	lockerBin = out
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if lockerBin != "" {
		os.Remove(lockerBin)
	}
	os.Exit(code)
}

// TestLockerStopped runs the test ransomware against ~200 files and checks
// that it is killed within 20 files and that everything is put back.
func TestLockerStopped(t *testing.T) {
	testutil.RequireRoot(t)
	locker := buildLocker(t)
	for _, tc := range []struct {
		name       string
		order      string
		mode       string
		skipDecoys bool
		rule       string
	}{
		{"readdir_inplace", "readdir", "inplace", false, ""},
		{"sorted_inplace", "sorted", "inplace", false, RuleDecoy},
		{"sorted_copy", "sorted", "copy", false, RuleDecoy},
		{"readdir_inplace_skip_decoys", "readdir", "inplace", true, RuleBehaviour},
		{"sorted_copy_skip_decoys", "sorted", "copy", true, RuleBehaviour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, 200)
			logf := filepath.Join(e.root, "locker.log")
			args := []string{"-dir", e.prot, "-order", tc.order, "-mode", tc.mode, "-log", logf}
			if tc.skipDecoys {
				args = append(args, "-skip", "!0000_,~zzzz_,.~")
			}
			cmd := exec.Command(locker, args...)
			out, err := cmd.CombinedOutput()
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("locker was not killed: %v\n%s", err, out)
			}
			changed := countLines(t, logf)
			t.Logf("%s: locker changed %d files before it was killed", tc.name, changed)
			if changed > 20 {
				t.Errorf("locker changed %d files, want ≤ 20", changed)
			}
			var a *alert.Alert
			select {
			case a = <-e.alerts:
			case <-time.After(2 * time.Minute):
				t.Fatal("no alert")
			}
			if tc.rule != "" && a.Rule.ID != tc.rule {
				t.Errorf("rule %s, want %s", a.Rule.ID, tc.rule)
			}
			if a.Response.Action != "kill_tree" || a.Response.Result != "ok" || a.Attack.Techniques[0] != "T1486" {
				t.Errorf("alert response %+v attack %+v", a.Response, a.Attack)
			}
			if a.Process == nil || a.Process.Exe != locker {
				t.Errorf("alert process %+v, want exe %s", a.Process, locker)
			}
			t.Logf("evidence: %v", a.Evidence)
			n, _ := a.Evidence["restored"].(int)
			d, _ := a.Evidence["decoys_restored"].(int)
			if n+d < changed {
				t.Errorf("restored %d files and %d decoys, fewer than the %d changed", n, d, changed)
			}
			for p, h := range e.files {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("%s not restored: %v", p, err)
					continue
				}
				if got := hashFile(t, p); got != h {
					t.Errorf("%s: sha256 %s, want %s", p, got, h)
				}
			}
			filepath.WalkDir(e.prot, func(p string, de fs.DirEntry, err error) error {
				if err == nil && (strings.HasSuffix(p, ".locked") || de.Name() == "README_LOCKED.txt") {
					t.Errorf("artefact left: %s", p)
				}
				return nil
			})
			for _, d := range e.g.Decoys() {
				b, err := os.ReadFile(d)
				want, _ := DecoyContent(filepath.Base(d))
				if err != nil || string(b) != string(want) {
					t.Errorf("decoy %s not intact: %v", d, err)
				}
			}
		})
	}
}

func countLines(t *testing.T, p string) int {
	t.Helper()
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	return n
}

// TestBenignBulkEdits: what an administrator does to many files at once
// is not ransomware.
func TestBenignBulkEdits(t *testing.T) {
	e := setup(t, 40)
	sed := testutil.RequireCommand(t, "sed")
	tarBin := testutil.RequireCommand(t, "tar")
	gz := testutil.RequireCommand(t, "gzip")
	texts := filepath.Join(e.prot, "texts")
	logs := filepath.Join(e.prot, "logs")
	os.MkdirAll(texts, 0o755)
	os.MkdirAll(logs, 0o755)
	var textFiles, logFiles []string
	for i := range 100 {
		p := filepath.Join(texts, fmt.Sprintf("page%03d.txt", i))
		os.WriteFile(p, []byte(strings.Repeat(fmt.Sprintf("line %d of the admin guide: old-host.example\n", i), 50)), 0o644)
		textFiles = append(textFiles, p)
		l := filepath.Join(logs, fmt.Sprintf("app-%03d.log", i))
		os.WriteFile(l, []byte(strings.Repeat(fmt.Sprintf("2026-11-27T10:%02d:00Z INFO request served in %dms\n", i%60, i), 200)), 0o644)
		logFiles = append(logFiles, l)
	}
	// A release tarball of compressed media and office files.
	tgz := filepath.Join(e.root, "release.tgz")
	writeTarball(t, tgz, 100)
	extract := filepath.Join(e.prot, "extract")
	os.MkdirAll(extract, 0o755)
	for _, c := range [][]string{
		append([]string{sed, "-i", "s/old-host/new-host/g"}, textFiles...),
		{tarBin, "-xzf", tgz, "-C", extract},
		append([]string{gz, "-9"}, logFiles...),
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", filepath.Base(c[0]), err, out)
		}
	}
	e.g.nmu.Lock()
	e.g.drain()
	e.g.nmu.Unlock()
	if st := e.g.Stats(); st.Kills != 0 {
		t.Errorf("benign edits killed: %+v", st)
	}
	select {
	case a := <-e.alerts:
		t.Errorf("benign edits alerted: %+v", a)
	default:
	}
	t.Logf("stats after sed -i, tar -x and gzip of 100 files each: %+v", e.g.Stats())
}

func writeTarball(t *testing.T, p string, n int) {
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	exts := []string{".jpg", ".docx", ".xlsx", ".pdf"}
	for i := range n {
		name := fmt.Sprintf("assets/img_%03d%s", i, exts[i%len(exts)])
		b, err := DecoyContent(name)
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Now()})
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
}

// TestBackupDirAndDecoyAccess: others may read but not write the backup
// store; reading a decoy is allowed; a removed decoy comes back.
func TestBackupDirAndDecoyAccess(t *testing.T) {
	e := setup(t, 10)
	sh := testutil.RequireCommand(t, "sh")
	ids, _ := e.store.List()
	manifest := filepath.Join(e.store.Dir(), "manifests", ids[0].ID+".json")
	if out, err := exec.Command(sh, "-c", "cat "+manifest+" >/dev/null").CombinedOutput(); err != nil {
		t.Errorf("reading a manifest: %v %s", err, out)
	}
	if out, err := exec.Command(sh, "-c", "echo x >> "+manifest).CombinedOutput(); err == nil {
		t.Errorf("appending to a manifest by another process succeeded: %s", out)
	}
	if out, err := exec.Command(sh, "-c", "echo x > "+filepath.Join(e.store.Dir(), "blobs", "evil")).CombinedOutput(); err == nil {
		t.Errorf("creating a blob by another process succeeded: %s", out)
	}
	if e.g.Stats().BackupDenied < 2 {
		t.Errorf("stats %+v: want 2 backup denials", e.g.Stats())
	}
	ds := e.g.Decoys()
	if len(ds) != 5*(2+DefaultHiddenDecoys) {
		t.Fatalf("%d decoys, want %d: %v", len(ds), 5*(2+DefaultHiddenDecoys), ds)
	}
	if out, err := exec.Command(sh, "-c", "cat '"+ds[0]+"' >/dev/null").CombinedOutput(); err != nil {
		t.Errorf("reading a decoy: %v %s", err, out)
	}
	if e.g.Stats().Kills != 0 {
		t.Errorf("reading a decoy killed")
	}
	// A writer that stays alive is killed and the decoy restored.
	cmd := exec.Command(sh, "-c", "exec 3>>'"+ds[1]+"'; echo gotcha >&3; sleep 60")
	out, _ := cmd.CombinedOutput()
	if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() {
		t.Errorf("decoy writer not killed: %s", out)
	}
	select {
	case a := <-e.alerts:
		if a.Rule.ID != RuleDecoy || a.Evidence["decoy"] != ds[1] {
			t.Errorf("alert %+v", a)
		}
	case <-time.After(time.Minute):
		t.Fatal("no decoy alert")
	}
	want, _ := DecoyContent(filepath.Base(ds[1]))
	if b, _ := os.ReadFile(ds[1]); string(b) != string(want) {
		t.Errorf("decoy changed")
	}
	// Removed: recreated.
	os.Remove(ds[2]) // by this process: ignored as an event, found by the check
	if n := e.g.ensureDecoys(); n != 1 {
		t.Errorf("ensureDecoys repaired %d, want 1", n)
	}
}

// TestBackupChanges: a file another process changes is backed up once
// quiet; an encrypted one is not.
func TestBackupChanges(t *testing.T) {
	e := setup(t, 4)
	e.g.Close()
	e.g.Wait()
	g, err := New(Config{ProtectedDirs: []string{e.prot}, Backup: e.store, BackupChanges: true, BackupDelay: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g.Wait()
	defer g.Close()
	sh := testutil.RequireCommand(t, "sh")
	plain := filepath.Join(e.prot, "dept0", "new-notes.txt")
	enc := filepath.Join(e.prot, "dept0", "blob.txt")
	// Two writers: a process that writes one encrypted-looking file has
	// none of its changes backed up.
	for _, script := range []string{"echo 'meeting notes: renew the contract' > " + plain, "head -c 8192 /dev/urandom > " + enc} {
		if out, err := exec.Command(sh, "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for g.Stats().BackedUp == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let a wrong backup of enc happen, if it would
	if vs, _ := e.store.Versions(plain); len(vs) != 1 || vs[0].Hash != hashFile(t, plain) {
		t.Errorf("versions of the changed file: %+v", vs)
	}
	if vs, _ := e.store.Versions(enc); len(vs) != 0 {
		t.Errorf("encrypted-looking change was backed up: %+v", vs)
	}
	if st := g.Stats(); st.BackedUp != 1 || st.Encrypted != 1 {
		t.Errorf("stats %+v: want 1 backed up, 1 encrypted", st)
	}
}

// TestShellLoopStopped: a shell loop that runs one short-lived encryptor
// per file is stopped through the children's parent.
func TestShellLoopStopped(t *testing.T) {
	e := setup(t, 80)
	sh := testutil.RequireCommand(t, "sh")
	testutil.RequireCommand(t, "find")
	logf := filepath.Join(e.root, "loop.log")
	script := `for f in $(find "$1" -type f ! -name '.*' ! -name '!*' ! -name '~*'); do
		sh -c 'head -c 4096 /dev/urandom > "$1" && echo "$1" >> "$2"' _ "$f" "$2"
	done`
	cmd := exec.Command(sh, "-c", script, "loop", e.prot, logf)
	out, _ := cmd.CombinedOutput()
	if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("loop not killed: %s", out)
	}
	changed := countLines(t, logf)
	t.Logf("shell loop changed %d files before it was killed", changed)
	if changed > 20 {
		t.Errorf("changed %d files, want ≤ 20", changed)
	}
	select {
	case a := <-e.alerts:
		if a.Rule.ID != RuleBehaviour || a.Process == nil || a.Process.PID != cmd.Process.Pid {
			t.Errorf("alert %s for %+v, want %s for the loop (pid %d)", a.Rule.ID, a.Process, RuleBehaviour, cmd.Process.Pid)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("no alert")
	}
	for p, h := range e.files {
		if got := hashFile(t, p); got != h {
			t.Errorf("%s: sha256 %s, want %s", p, got, h)
		}
	}
}
