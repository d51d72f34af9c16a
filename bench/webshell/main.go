// Command webshell measures internal/webshell against the webshell corpora
// in /work/shared/data/webshell and benign application code from Debian
// packages:
//
//	go run ./bench/webshell [-data DIR] [-cache DIR] [-debian=false] [-system=false] [-only NAME] [-show N] [-misses] [-v] [-slowest N] [-cpuprofile FILE]
//
// It prints, per set, how many files were judged (empty files and byte-identical
// duplicates are counted and reported, not skipped), the recall on shell sets,
// the false-positive rate on benign sets, and single-core throughput. For
// shell sets it also prints the recall over the files in which server-side
// code was found at all (Result.Lang != ""): READMEs, changelogs and plain
// HTML pages stored among the samples are not shells. Each set's
// single-core throughput is printed under it; -slowest N lists the files
// that cost the most CPU time. -misses lists every
// missed shell and flagged benign file (with -v, their evidence).
// The Debian packages (wordpress, phpmyadmin, tomcat10-examples) are fetched
// with `apt-get download` into the cache directory and unpacked with `dpkg -x`;
// nothing is written to the source tree. The "debian/system" set (-system)
// judges every text file under this machine's Python, Vim, Nmap, Perl,
// documentation, JavaScript, Google Cloud SDK and /etc trees; -only NAME
// restricts the run to the sets whose name contains NAME.
package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vigilsec/vigil/internal/webshell"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type set struct {
	name   string
	dir    string
	extra  []string            // further directories measured as part of the set
	text   bool                // only text files (no NUL byte in the first 8 KiB) are counted
	shells bool                // true: shells (measure recall); false: benign (measure FPs)
	keep   func(p string) bool // file selection inside dir (nil: all regular files)
	// expect names benign-set files that do hold a real remote code
	// execution capability: reported hits on them are counted apart, not
	// as false positives.
	expect func(p string) bool
}

type stats struct {
	files, empty, dups, positive int
	expected                     int // hits on files the set expects to be reported
	code, codePositive           int // files with server-side code (Lang != "")
	bytes                        int64
	elapsed                      time.Duration
	langs                        map[string]int
	rules                        map[string]int
	misses                       []string // shells missed / benign flagged
	times                        []fileTime
}

// fileTime is the CPU time one file took to judge.
type fileTime struct {
	path string
	size int
	d    time.Duration
}

func run() error {
	cacheDefault := filepath.Join(os.TempDir(), "vigil-bench-webshell")
	if d, err := os.UserCacheDir(); err == nil {
		cacheDefault = filepath.Join(d, "vigil-bench", "webshell")
	}
	data := flag.String("data", "/work/shared/data/webshell", "corpus root")
	cache := flag.String("cache", cacheDefault, "cache directory for Debian packages")
	debian := flag.Bool("debian", true, "fetch and check Debian wordpress, phpmyadmin, tomcat10-examples")
	system := flag.Bool("system", true, "check every text file of this system's Python, Vim, Nmap, Perl, docs, JavaScript and /etc trees")
	only := flag.String("only", "", "measure only the sets whose name contains this string")
	show := flag.Int("show", 5, "list up to N misses / false positives per set")
	verbose := flag.Bool("v", false, "print evidence for listed files")
	misses := flag.Bool("misses", false, "list every miss / false positive (overrides -show)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	slowest := flag.Int("slowest", 0, "list the N files that took the most CPU time to judge")
	flag.Parse()
	if *misses {
		*show = int(^uint(0) >> 1)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	runtime.GOMAXPROCS(1)

	if _, err := os.Stat(*data); err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	sets := []set{
		{name: "msdetector/train/webshell", dir: filepath.Join(*data, "msdetector/train/webshell"), shells: true},
		{name: "msdetector/train/normal", dir: filepath.Join(*data, "msdetector/train/normal")},
		{name: "tennc/php", dir: filepath.Join(*data, "tennc/php"), shells: true},
		{name: "tennc/jsp", dir: filepath.Join(*data, "tennc/jsp"), shells: true},
		{name: "tennc/asp", dir: filepath.Join(*data, "tennc/asp"), shells: true},
		{name: "tennc/aspx", dir: filepath.Join(*data, "tennc/aspx"), shells: true},
	}
	if *debian {
		root, err := fetchDebian(*cache)
		if err != nil {
			return err
		}
		code := func(p string) bool {
			e := strings.ToLower(filepath.Ext(p))
			return e == ".php" || e == ".jsp" || e == ".jspx" || e == ".inc"
		}
		for _, pkg := range []string{"wordpress", "phpmyadmin", "tomcat10-examples"} {
			sets = append(sets, set{name: "debian/" + pkg, dir: filepath.Join(root, pkg), keep: code})
		}
	}

	if *system {
		var dirs []string
		for _, g := range systemDirs {
			m, _ := filepath.Glob(g)
			for _, d := range m {
				if fi, err := os.Stat(d); err == nil && fi.IsDir() {
					dirs = append(dirs, d)
				}
			}
		}
		if len(dirs) > 0 {
			sets = append(sets, set{name: "debian/system", dir: dirs[0], extra: dirs[1:], text: true, expect: expectedSystem})
		}
	}
	if *only != "" {
		var keep []set
		for _, s := range sets {
			if strings.Contains(s.name, *only) {
				keep = append(keep, s)
			}
		}
		sets = keep
	}

	var totalBytes int64
	var totalTime time.Duration
	var slow []fileTime
	fmt.Printf("%-28s %6s %5s %5s %6s %8s  %s\n", "set", "files", "empty", "dups", "hits", "rate", "languages")
	for _, s := range sets {
		st, err := measure(s, *show, *verbose)
		if err != nil {
			return err
		}
		slow = append(slow, st.times...)
		totalBytes += st.bytes
		totalTime += st.elapsed
		rate, label := 0.0, "FP"
		judged := st.files - st.empty
		if judged > 0 {
			rate = float64(st.positive) / float64(judged) * 100
		}
		if s.shells {
			label = "recall"
		}
		fmt.Printf("%-28s %6d %5d %5d %6d %6.2f%% %s  %s\n", s.name, st.files, st.empty, st.dups, st.positive, rate, label, fmtMap(st.langs))
		if s.shells && st.code < judged {
			fmt.Printf("%-28s with server code: %d/%d = %.2f%% recall (%d files without server code)\n", "",
				st.codePositive, st.code, float64(st.codePositive)/float64(max(st.code, 1))*100, judged-st.code)
		}
		if len(st.rules) > 0 {
			fmt.Printf("%-28s top rules: %s\n", "", topRules(st.rules, 4))
		}
		if st.elapsed > 0 {
			fmt.Printf("%-28s throughput: %.1f MiB in %v = %.1f MiB/s\n", "", float64(st.bytes)/(1<<20), st.elapsed.Round(time.Millisecond), float64(st.bytes)/(1<<20)/st.elapsed.Seconds())
		}
		if st.expected > 0 {
			fmt.Printf("%-28s %d expected hit(s) on real code-execution endpoints, not counted as FPs\n", "", st.expected)
		}
		for _, m := range st.misses {
			if strings.HasPrefix(m, "expected: ") {
				fmt.Printf("    %s\n", m)
				continue
			}
			fmt.Printf("    %s %s\n", map[bool]string{true: "missed:", false: "flagged:"}[s.shells], m)
		}
	}
	if *slowest > 0 {
		sort.Slice(slow, func(i, j int) bool { return slow[i].d > slow[j].d })
		fmt.Printf("slowest files (CPU time, size, MiB/s):\n")
		for _, f := range slow[:min(*slowest, len(slow))] {
			fmt.Printf("    %8v %9d %7.1f  %s\n", f.d.Round(time.Microsecond), f.size, float64(f.size)/(1<<20)/f.d.Seconds(), f.path)
		}
	}
	mb := float64(totalBytes) / (1 << 20)
	fmt.Printf("throughput (GOMAXPROCS=1, process CPU time incl. GC): %.1f MiB in %v = %.1f MiB/s per core\n", mb, totalTime.Round(time.Millisecond), mb/totalTime.Seconds())
	return nil
}

// systemDirs are the trees of ordinary system files (globs) that the
// "debian/system" set judges: none of them holds a web shell, and they are
// full of code in other languages that mentions PHP or ASP syntax.
var systemDirs = []string{
	"/usr/lib/python3*", "/usr/share/vim", "/usr/share/nmap", "/usr/share/doc", "/usr/share/perl*",
	"/usr/lib/google-cloud-sdk", "/usr/share/javascript", "/etc",
}

// expectedSystem names the system files that are real code-execution
// endpoints and must stay reported: the App Engine development server's PHP
// runtime runs eval(file_get_contents("php://input")).
func expectedSystem(p string) bool {
	return strings.HasSuffix(p, "/google_appengine/google/appengine/tools/devappserver2/php/runtime/setup.php")
}

func measure(s set, show int, verbose bool) (stats, error) {
	st := stats{langs: map[string]int{}, rules: map[string]int{}}
	seen := map[[32]byte]bool{}
	var paths []string
	for _, dir := range append([]string{s.dir}, s.extra...) {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && len(s.extra) > 0 {
				return nil // a live system tree changed while it was walked
			}
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && (s.keep == nil || s.keep(p)) {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("walk %s: %w", dir, err)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) && len(s.extra) > 0 {
			continue // a live system tree changed while it was walked
		}
		if err != nil {
			return st, fmt.Errorf("read: %w", err)
		}
		if s.text && bytes.IndexByte(b[:min(len(b), 8<<10)], 0) >= 0 {
			continue // binary file in a text-only set
		}
		st.files++
		if len(b) == 0 {
			st.empty++
			continue
		}
		h := sha256.Sum256(b)
		if seen[h] {
			st.dups++
		}
		seen[h] = true
		c0 := cpuTime()
		r := webshell.Analyze(b)
		d := cpuTime() - c0
		st.elapsed += d
		st.times = append(st.times, fileTime{p, len(b), d})
		st.bytes += int64(len(b))
		st.langs[orDash(r.Lang)]++
		if r.Lang != "" {
			st.code++
			if r.Webshell() {
				st.codePositive++
			}
		}
		if r.Webshell() && !s.shells && s.expect != nil && s.expect(p) {
			st.expected++
			if len(st.misses) < show {
				st.misses = append(st.misses, "expected: "+p+" rule="+r.Rule)
			}
			continue
		}
		if r.Webshell() {
			st.positive++
			st.rules[r.Rule]++
		}
		if r.Webshell() != s.shells && len(st.misses) < show {
			rel := p
			if len(s.extra) == 0 {
				rel, _ = filepath.Rel(s.dir, p)
			}
			line := fmt.Sprintf("%s lang=%s score=%.2f rule=%s", rel, orDash(r.Lang), r.Score, r.Rule)
			if verbose {
				line += "\n        " + strings.Join(r.Evidence, "\n        ")
			}
			st.misses = append(st.misses, line)
		}
	}
	return st, nil
}

// fetchDebian downloads and unpacks the benign packages once into cache.
func fetchDebian(cache string) (string, error) {
	debs := filepath.Join(cache, "debs")
	root := filepath.Join(cache, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return "", err
	}
	pkgs := []string{"wordpress", "phpmyadmin", "tomcat10-examples"}
	for _, pkg := range pkgs {
		dst := filepath.Join(root, pkg)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(debs, pkg+"_*.deb"))
		if len(matches) == 0 {
			cmd := exec.Command("apt-get", "download", pkg)
			cmd.Dir = debs
			if out, err := cmd.CombinedOutput(); err != nil {
				return "", fmt.Errorf("apt-get download %s: %w: %s", pkg, err, out)
			}
			matches, _ = filepath.Glob(filepath.Join(debs, pkg+"_*.deb"))
			if len(matches) == 0 {
				return "", errors.New("apt-get download " + pkg + ": no .deb produced")
			}
		}
		tmp := dst + ".tmp"
		os.RemoveAll(tmp)
		if out, err := exec.Command("dpkg", "-x", matches[0], tmp).CombinedOutput(); err != nil {
			return "", fmt.Errorf("dpkg -x %s: %w: %s", matches[0], err, out)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return "", err
		}
	}
	return root, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtMap(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}

func topRules(m map[string]int, n int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	var parts []string
	for i := 0; i < len(l) && i < n; i++ {
		parts = append(parts, fmt.Sprintf("%s=%d", strings.TrimPrefix(l[i].k, "VGL-WEBSHELL-"), l[i].v))
	}
	return strings.Join(parts, " ")
}

// cpuTime is the process's user+system CPU time. With GOMAXPROCS=1 it
// measures the analysis cost on one core independently of other load on
// the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
