package webshell

import (
	"container/list"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Cache remembers, across the files of a scan, the analysis of decoded
// payloads and the output of the decompressors that produced them. Packed
// shells are mostly a few payloads (c99, r57, WSO, b374k and their kin)
// re-wrapped in base64, gzip and rot13 layers, so the same encoded literal
// and the same decoded PHP turn up under many files; with a Cache each is
// decoded and analysed once per scan. Results are the same as without a
// Cache: a payload analysis is keyed by the payload's digest and the
// nesting depth it was analysed at, and only analyses that ran to
// completion (no budget or decode cap reached) are kept; a decompressor's
// output is keyed by the decoder and its input's digest, and is charged to
// the file's decode cap as if it had been decoded again. The digest is 128
// bits of hash/maphash under seeds drawn for each Cache: as unlikely to
// collide by accident as a cryptographic hash over a scan's few thousand
// payloads, not computable (so not collidable) by whoever wrote the files,
// and an order of magnitude cheaper than SHA-256 on payloads of megabytes.
//
// A Cache is safe for concurrent use. Its memory is bounded: it holds at
// most the given number of payload analyses (each a payload's signals, a
// few hundred bytes; evidence snippets are copied out of the payload,
// which is not kept) and at most DecodeCacheBytes of decompressed output,
// and forgets the least recently used first.
type Cache struct {
	seeds   [2]maphash.Seed
	mu      sync.Mutex
	layers  lru[layerKey, *scorer]
	decodes lru[decodeSum, decodeRes]

	hits, misses             atomic.Int64
	decodeHits, decodeMisses atomic.Int64
}

// minCachedLayer is the smallest payload worth hashing and remembering:
// below it, analysis costs about what the lookup does. minCachedDecode is
// the same for decoder inputs.
const (
	minCachedLayer  = 1 << 10
	minCachedDecode = 1 << 10
)

// DefaultCacheEntries is the size NewCache uses when given zero or less.
const DefaultCacheEntries = 4096

// DecodeCacheBytes bounds the decompressed output a Cache holds: on the
// web shell corpus it saves as much CPU as 16 or 32 MiB do, for about 25
// MiB more peak RSS in a scan (heap plus the garbage collector's headroom).
const DecodeCacheBytes = 8 << 20

// digest identifies a payload or decoder input within one Cache.
type digest [2]uint64

func (c *Cache) digest(s string) digest {
	return digest{maphash.String(c.seeds[0], s), maphash.String(c.seeds[1], s)}
}

type layerKey struct {
	sum   digest
	depth int
}

type decodeSum struct {
	fn string // the PHP decoder's name
	in digest
}

// NewCache returns a Cache holding at most entries payload analyses
// (DefaultCacheEntries when entries <= 0).
func NewCache(entries int) *Cache {
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	c := &Cache{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	c.layers.init(entries, math.MaxInt)
	c.decodes.init(4*entries, DecodeCacheBytes)
	return c
}

// CacheStats counts lookups of decoded payloads and of decoder outputs.
type CacheStats struct {
	Hits, Misses int64
	Entries      int
	// DecodeHits and DecodeMisses count decoder outputs found and not
	// found; DecodeEntries is how many are held, DecodeBytes their size.
	DecodeHits, DecodeMisses   int64
	DecodeEntries, DecodeBytes int
}

// Stats reports the lookups so far and the entries held.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	n, d, db := len(c.layers.entries), len(c.decodes.entries), c.decodes.cost
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: n,
		DecodeHits: c.decodeHits.Load(), DecodeMisses: c.decodeMisses.Load(), DecodeEntries: d, DecodeBytes: db}
}

func (c *Cache) get(k layerKey) (*scorer, bool) {
	c.mu.Lock()
	sc, ok := c.layers.get(k)
	c.mu.Unlock()
	count(ok, &c.hits, &c.misses)
	return sc, ok
}

func (c *Cache) put(k layerKey, sc *scorer) {
	c.mu.Lock()
	c.layers.put(k, sc, 1)
	c.mu.Unlock()
}

func (c *Cache) getDecode(k decodeSum) (decodeRes, bool) {
	c.mu.Lock()
	r, ok := c.decodes.get(k)
	c.mu.Unlock()
	count(ok, &c.decodeHits, &c.decodeMisses)
	return r, ok
}

// putDecode keeps r, which must not alias the analysed text.
func (c *Cache) putDecode(k decodeSum, r decodeRes) {
	c.mu.Lock()
	c.decodes.put(k, r, len(r.out)+1)
	c.mu.Unlock()
}

func count(hit bool, hits, misses *atomic.Int64) {
	if hit {
		hits.Add(1)
	} else {
		misses.Add(1)
	}
}

// lru is a map that forgets its least recently used entries beyond a
// number of entries and a total cost. It is not safe for concurrent use.
type lru[K comparable, V any] struct {
	maxEntries, maxCost, cost int
	entries                   map[K]*list.Element
	order                     list.List // of *lruEntry[K, V], most recently used first
}

type lruEntry[K comparable, V any] struct {
	key  K
	val  V
	cost int
}

func (l *lru[K, V]) init(maxEntries, maxCost int) {
	l.maxEntries, l.maxCost = maxEntries, maxCost
	l.entries = map[K]*list.Element{}
}

func (l *lru[K, V]) get(k K) (V, bool) {
	e, ok := l.entries[k]
	if !ok {
		var zero V
		return zero, false
	}
	l.order.MoveToFront(e)
	return e.Value.(*lruEntry[K, V]).val, true
}

// put stores v under k unless k is present. An entry costing more than
// the whole budget is not stored.
func (l *lru[K, V]) put(k K, v V, cost int) {
	if e, ok := l.entries[k]; ok {
		l.order.MoveToFront(e)
		return
	}
	if cost > l.maxCost {
		return
	}
	l.entries[k] = l.order.PushFront(&lruEntry[K, V]{key: k, val: v, cost: cost})
	l.cost += cost
	for len(l.entries) > l.maxEntries || l.cost > l.maxCost {
		old := l.order.Remove(l.order.Back()).(*lruEntry[K, V])
		delete(l.entries, old.key)
		l.cost -= old.cost
	}
}

// detached copies sc so that it holds no reference into the analysed
// text: evidence snippets are substrings of the payload.
func (sc *scorer) detached() *scorer {
	out := &scorer{lang: sc.lang, sigs: make(map[string]signal, len(sc.sigs))}
	for id, sg := range sc.sigs {
		sg.snip = strings.Clone(sg.snip)
		sg.why = strings.Clone(sg.why)
		out.sigs[id] = sg
	}
	return out
}

// analyzeLayer analyses the decoded payload s one level deeper than the
// current analysis, through the scan's Cache when there is one.
func (st *state) analyzeLayer(s string, code bool) *scorer {
	if st.decided {
		// The analysis has stopped: nothing deeper is looked at (and no
		// cut-short layer may be cached as complete).
		return newScorer("php")
	}
	var k layerKey
	cached := st.cache != nil && len(s) >= minCachedLayer && !st.capped
	if cached {
		k = layerKey{st.cache.digest(s), st.depth + 1}
		if sc, ok := st.cache.get(k); ok {
			return sc
		}
	}
	st.depth++
	sc := analyzePHP(s, code, st)
	st.depth--
	if cached && !st.capped {
		// Complete: what any file holding this payload at this depth
		// would get.
		st.cache.put(k, sc.detached())
	}
	return sc
}

// within reports whether s's bytes lie inside p's memory.
func within(s, p string) bool {
	sp := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	pp := uintptr(unsafe.Pointer(unsafe.StringData(p)))
	return len(s) > 0 && len(p) > 0 && sp >= pp && sp < pp+uintptr(len(p))
}
