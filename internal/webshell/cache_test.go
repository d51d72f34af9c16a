package webshell

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// packedPayload is a PHP shell of a few KiB, as packers hide it: the same
// payload appears under every wrapping packedFiles makes.
func packedPayload(t *testing.T, variant int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "$v = %d;\n", variant)
	for i := range 60 {
		fmt.Fprintf(&b, "function page%d($t) { echo '<td class=\"c%d\">' . htmlspecialchars($t) . '</td>'; }\n", i, i)
	}
	// Sinks on lines without spaces: their evidence snippets are then
	// substrings of the payload (see snippet), unless copied.
	b.WriteString("if(isset($_POST['c'])){system($_POST['c']);}\n")
	b.WriteString("if(isset($_POST['e'])){@eval($_POST['e']);}\n")
	return b.String()
}

func gzinflateB64(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(s))
	w.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// packedFiles wraps payloads in the ways packers do: directly evaluated,
// through a variable, and twice (so the payload sits one level deeper).
func packedFiles(t *testing.T) [][]byte {
	var files [][]byte
	for v := range 2 {
		p := packedPayload(t, v)
		blob := gzinflateB64(t, p)
		inner := "eval(gzinflate(base64_decode('" + blob + "')));"
		files = append(files,
			[]byte("<?php eval(gzinflate(base64_decode('"+blob+"'))); ?>"),
			[]byte("<?php\n$x = '"+blob+"';\n@eval(gzinflate(base64_decode($x)));\n"),
			[]byte("<?php /* again */ eval(gzinflate(base64_decode('"+blob+"')));\n"),
			[]byte("<?php eval(base64_decode('"+base64.StdEncoding.EncodeToString([]byte(inner))+"'));"),
		)
	}
	return files
}

// TestCacheSameResults: a scan sharing a Cache gives every file the result
// it gets alone, and payloads met again are not analysed again.
func TestCacheSameResults(t *testing.T) {
	files := packedFiles(t)
	want := make([]Result, len(files))
	for i, f := range files {
		want[i] = Analyze(f)
		if !want[i].Webshell() {
			t.Fatalf("file %d not detected: %+v", i, want[i])
		}
	}
	c := NewCache(0)
	for i, f := range files {
		if diff := cmp.Diff(want[i], AnalyzeWith(f, Options{Cache: c})); diff != "" {
			t.Errorf("file %d with a cache (-alone +cached):\n%s", i, diff)
		}
	}
	st := c.Stats()
	// Per variant: the first file analyses the payload at depth 1, the
	// next two find it; in the doubly wrapped file the middle layer is
	// too small to cache and the payload is at depth 2 (another key).
	if st.Hits != 4 || st.Misses != 4 || st.Entries != 4 {
		t.Errorf("Stats = %+v, want 4 hits, 4 misses and 4 entries", st)
	}
	// A second pass over the same files finds every payload.
	for i, f := range files {
		if diff := cmp.Diff(want[i], AnalyzeWith(f, Options{Cache: c})); diff != "" {
			t.Errorf("file %d, second pass (-alone +cached):\n%s", i, diff)
		}
	}
	if st2 := c.Stats(); st2.Misses != st.Misses {
		t.Errorf("second pass missed: %+v then %+v", st, st2)
	}
}

// TestCacheSkipsCapped: an analysis cut short by the budget is not what
// another file would get, so it is not kept.
func TestCacheSkipsCapped(t *testing.T) {
	p := packedPayload(t, 0)
	c := NewCache(0)
	st := &state{budget: 10, cache: c}
	st.analyzeLayer(p, true)
	if !st.capped {
		t.Fatal("a 10-unit budget did not cap the analysis")
	}
	st = &state{budget: 1 << 30, cache: c, capped: true}
	st.analyzeLayer(p, true)
	if n := c.Stats().Entries; n != 0 {
		t.Errorf("capped analyses cached: %d entries", n)
	}
	st = &state{budget: 1 << 30, cache: c}
	st.analyzeLayer(p, true)
	if n := c.Stats().Entries; n != 1 {
		t.Errorf("complete analysis not cached: %d entries", n)
	}
	st.analyzeLayer(p[:minCachedLayer-1], true)
	if n := c.Stats().Entries; n != 1 {
		t.Errorf("a payload below %d bytes was cached: %d entries", minCachedLayer, n)
	}
}

func TestCacheBounded(t *testing.T) {
	c := NewCache(3)
	for v := range 10 {
		st := &state{budget: 1 << 30, cache: c}
		st.analyzeLayer(packedPayload(t, v), true)
	}
	if n := c.Stats().Entries; n != 3 {
		t.Errorf("Entries = %d, want 3", n)
	}
	// The most recent payload is still there; the first is gone.
	for v, want := range map[int]bool{9: true, 0: false} {
		st := &state{budget: 1 << 30, cache: c}
		before := c.Stats().Hits
		st.analyzeLayer(packedPayload(t, v), true)
		if hit := c.Stats().Hits > before; hit != want {
			t.Errorf("payload %d: hit %v, want %v", v, hit, want)
		}
	}
}

// TestCacheDetached: a cached analysis keeps no reference into the
// payload it came from, so a scan's memory does not grow with the payloads
// it has seen.
func TestCacheDetached(t *testing.T) {
	p := packedPayload(t, 0)
	st := &state{budget: 1 << 30}
	sc := st.analyzeLayer(p, true).detached()
	if len(sc.sigs) == 0 {
		t.Fatal("no signals in the payload")
	}
	for _, sg := range sc.sigs {
		for _, s := range []string{sg.snip, sg.why} {
			if within(s, p) {
				t.Errorf("signal %s holds a substring of the payload: %q", sg.id, s)
			}
		}
	}
}

// TestCacheConcurrent: workers of one scan share a Cache (run with -race).
func TestCacheConcurrent(t *testing.T) {
	files := packedFiles(t)
	for _, fx := range allFixtures(t) {
		files = append(files, fx.data)
	}
	want := make([]Result, len(files))
	for i, f := range files {
		want[i] = Analyze(f)
	}
	c := NewCache(8)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for k := range files {
				i := (k + w*len(files)/4) % len(files)
				if diff := cmp.Diff(want[i], AnalyzeWith(files[i], Options{Cache: c})); diff != "" {
					t.Errorf("file %d (-alone +shared cache):\n%s", i, diff)
				}
			}
		})
	}
	wg.Wait()
}

// TestCacheDecodes: a decoder's output is shared by the files whose
// literal it decodes; a copy is kept, never the caller's bytes.
func TestCacheDecodes(t *testing.T) {
	c := NewCache(0)
	// A payload that compresses to more than minCachedDecode bytes.
	noise := make([]byte, 2*minCachedDecode)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rnd.Uint32())
	}
	blob := gzinflateB64(t, packedPayload(t, 0)+"// "+hex.EncodeToString(noise)+"\n")
	files := [][]byte{
		[]byte("<?php eval(gzinflate(base64_decode('" + blob + "'))); ?>"),
		[]byte("<?php\n$x = '" + blob + "';\n@eval(gzinflate(base64_decode($x)));\n"),
	}
	// A scanner reads every file into one buffer: what the Cache keeps
	// must not be slices of it (function names in keys included), or the
	// next file overwrites them.
	buf := make([]byte, 2*len(files[1]))
	scan := func(f []byte) Result { return AnalyzeWith(buf[:copy(buf, f)], Options{Cache: c}) }
	for _, f := range files {
		if r := scan(f); !r.Webshell() {
			t.Fatalf("not detected: %+v", r)
		}
	}
	first := c.Stats()
	// The files share one base64 literal and so one gzinflate input.
	if first.DecodeHits == 0 || first.DecodeEntries == 0 {
		t.Fatalf("Stats = %+v, want decoder outputs found again", first)
	}
	scan([]byte("<?php " + strings.Repeat("$a = 'zz'; echo 'XXXXXXXXXX';", len(buf)/30)))
	for _, f := range files {
		scan(f)
	}
	if st := c.Stats(); st.DecodeMisses != first.DecodeMisses {
		t.Errorf("second pass decoded again: %+v then %+v", first, st)
	}

	// A decoder output that is its input is kept as a copy.
	in := strings.Repeat("plain text ", minCachedDecode/10)
	st := &state{cache: c}
	out, ok := st.decodeShared("gzinflate", in, func(s string) (string, bool) { return s, true })
	if !ok || out != in {
		t.Fatalf("decodeShared = %q, %v", out, ok)
	}
	r, ok := c.getDecode(decodeSum{"gzinflate", c.digest(in)})
	if !ok || r.out != in || within(r.out, in) {
		t.Errorf("cached output: found %v, equal %v, aliases the input %v", ok, r.out == in, within(r.out, in))
	}
	// Cheap decoders are not shared.
	before := c.Stats()
	st.decodeShared("base64_decode", in, decodeBase64)
	if after := c.Stats(); after.DecodeMisses != before.DecodeMisses || after.DecodeEntries != before.DecodeEntries {
		t.Errorf("base64_decode went through the cache: %+v then %+v", before, after)
	}
}

// TestLRUCost: entries are forgotten, oldest first, once their total cost
// passes the bound; one dearer than the whole bound is not kept.
func TestLRUCost(t *testing.T) {
	var l lru[int, string]
	l.init(100, 10)
	for k := range 5 {
		l.put(k, "v", 3)
	}
	if len(l.entries) != 3 || l.cost != 9 {
		t.Errorf("%d entries costing %d, want 3 costing 9", len(l.entries), l.cost)
	}
	for k, want := range map[int]bool{0: false, 1: false, 2: true, 4: true} {
		if _, ok := l.get(k); ok != want {
			t.Errorf("get(%d) found %v, want %v", k, ok, want)
		}
	}
	l.put(9, "big", 11)
	if _, ok := l.get(9); ok || len(l.entries) != 3 {
		t.Errorf("an entry dearer than the bound was kept or evicted others: %d entries", len(l.entries))
	}
}
