package webshell

import (
	"container/list"
	"crypto/sha256"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Cache remembers the analysis of decoded payloads across the files of a
// scan. Packed shells are mostly a few payloads (c99, r57, WSO, b374k and
// their kin) re-wrapped in base64, gzip and rot13 layers, so the same
// decoded PHP turns up under many files; with a Cache each distinct
// payload is analysed once per scan, and the files holding it only decode
// their own wrapping. Results are the same as without a Cache: an entry is
// keyed by the payload's SHA-256 and the nesting depth it was analysed at,
// and only analyses that ran to completion (no budget or decode cap
// reached) are kept.
//
// A Cache is safe for concurrent use. Its memory is bounded: it holds at
// most the given number of entries, each a payload's signals (a few hundred
// bytes; evidence snippets are copied out of the payload, which is not
// kept), and forgets the least recently used first.
type Cache struct {
	mu      sync.Mutex
	max     int
	entries map[layerKey]*list.Element
	lru     list.List // of *layerEntry, most recently used first

	hits, misses atomic.Int64
}

// minCachedLayer is the smallest payload worth hashing and remembering:
// below it, analysis costs about what the lookup does.
const minCachedLayer = 1 << 10

// DefaultCacheEntries is the size NewCache uses when given zero or less.
const DefaultCacheEntries = 4096

type layerKey struct {
	sum   [sha256.Size]byte
	depth int
}

type layerEntry struct {
	key layerKey
	sc  *scorer // read-only once stored
}

// NewCache returns a Cache holding at most entries payload analyses
// (DefaultCacheEntries when entries <= 0).
func NewCache(entries int) *Cache {
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	return &Cache{max: entries, entries: map[layerKey]*list.Element{}}
}

// CacheStats counts lookups of decoded payloads.
type CacheStats struct {
	Hits, Misses int64
	Entries      int
}

// Stats reports the lookups so far and the entries held.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: n}
}

func (c *Cache) get(k layerKey) (*scorer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	c.lru.MoveToFront(e)
	return e.Value.(*layerEntry).sc, true
}

func (c *Cache) put(k layerKey, sc *scorer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		c.lru.MoveToFront(e)
		return
	}
	c.entries[k] = c.lru.PushFront(&layerEntry{key: k, sc: sc})
	for len(c.entries) > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*layerEntry).key)
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
		// The payload is only read: hash it in place.
		k = layerKey{sha256.Sum256(unsafe.Slice(unsafe.StringData(s), len(s))), st.depth + 1}
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
