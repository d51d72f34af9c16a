package detect

import (
	"container/list"
	"sort"
	"time"
)

// Aggregation uses sliding windows: an aggregate rule fires when the events
// (or distinct values) of a group seen within the last `window`, counting
// the current one, reach the threshold. The group then starts over, so a
// continuing attack raises one alert per threshold events, and suppression
// folds those repeats into the first alert.
//
// Two optional parts extend this (spec.go, Aggregate): a weight makes one
// event count for several occurrences, and fire_on makes a two-step
// sequence — the group counts the events whose fire_on is false and only
// an event whose fire_on is true can fire it, when the group had reached
// the threshold before that event.
//
// Memory is bounded: a group keeps at most `threshold` timestamps or
// distinct values, and a rule keeps at most MaxGroups groups; beyond that
// the least recently updated group is dropped (counted in
// Stats.Evictions when its window was still open).

type aggregator struct {
	max    int
	groups map[string]*list.Element // of *group
	lru    *list.List               // least recently updated first
}

type group struct {
	key      string
	last     time.Time
	times    []time.Time          // count mode: the latest events, oldest first
	distinct map[string]time.Time // distinct mode: value → last seen
}

// aggResult describes a firing group.
type aggResult struct {
	count    int
	distinct []string // sorted, at most maxDistinctEvidence
}

const maxDistinctEvidence = 20

// maxPrealloc bounds the room a new group gets for its values.
const maxPrealloc = 16

func newAggregator(max int) *aggregator {
	a := &aggregator{max: max}
	a.reset()
	return a
}

func (a *aggregator) reset() {
	a.groups = map[string]*list.Element{}
	a.lru = list.New()
}

// aggStep is what one event brings to its group.
type aggStep struct {
	value      string // the distinct value, in distinct mode
	isDistinct bool
	weight     int64 // occurrences the event stands for (count mode)
	sequence   bool  // the rule has fire_on
	fire       bool  // fire_on is true for this event
}

// add records one event of group key at now. It returns the result when
// the group reaches threshold, and whether a live group was evicted to
// make room.
func (a *aggregator) add(key string, st aggStep, now time.Time, window time.Duration, threshold int) (*aggResult, bool) {
	isDistinct, value := st.isDistinct, st.value
	if st.fire {
		return a.fire(key, isDistinct, now, window, threshold), false
	}
	if st.weight <= 0 {
		return nil, false
	}
	// Drop a couple of expired groups on the way, so idle groups do not
	// wait for eviction.
	for i := 0; i < 2; i++ {
		front := a.lru.Front()
		if front == nil || front.Value.(*group).key == key || now.Sub(front.Value.(*group).last) < window {
			break
		}
		a.remove(front)
	}
	evicted := false
	el, ok := a.groups[key]
	if !ok {
		if len(a.groups) >= a.max {
			front := a.lru.Front()
			evicted = now.Sub(front.Value.(*group).last) < window
			a.remove(front)
		}
		// Room for a firing group's values from the start (most groups
		// of a brute force fill up), without growing in steps.
		g := &group{key: key}
		if isDistinct {
			g.distinct = make(map[string]time.Time, min(threshold+1, maxPrealloc))
		} else {
			g.times = make([]time.Time, 0, min(threshold, maxPrealloc))
		}
		el = a.lru.PushBack(g)
		a.groups[key] = el
	} else {
		a.lru.MoveToBack(el)
	}
	g := el.Value.(*group)
	g.last = now
	start := now.Add(-window)
	var n int
	if isDistinct {
		for v, t := range g.distinct {
			if t.Before(start) {
				delete(g.distinct, v)
			}
		}
		g.distinct[value] = now
		n = len(g.distinct)
		if len(g.distinct) > threshold && st.sequence {
			// Keep memory bounded: the oldest values go first.
			dropOldest(g.distinct, len(g.distinct)-threshold)
			n = len(g.distinct)
		}
	} else {
		i := 0
		for i < len(g.times) && g.times[i].Before(start) {
			i++
		}
		g.times = g.times[i:]
		for w := min(st.weight, int64(threshold)); w > 0; w-- {
			g.times = append(g.times, now)
		}
		if len(g.times) > threshold {
			g.times = g.times[len(g.times)-threshold:]
		}
		n = len(g.times)
	}
	if n < threshold || st.sequence {
		return nil, evicted
	}
	return a.result(el, isDistinct, n), evicted
}

// fire judges the completing event of a sequence: the group fires when it
// holds threshold occurrences within the window before now.
func (a *aggregator) fire(key string, isDistinct bool, now time.Time, window time.Duration, threshold int) *aggResult {
	el, ok := a.groups[key]
	if !ok {
		return nil
	}
	g := el.Value.(*group)
	start := now.Add(-window)
	var n int
	if isDistinct {
		for v, t := range g.distinct {
			if t.Before(start) {
				delete(g.distinct, v)
			}
		}
		n = len(g.distinct)
	} else {
		i := 0
		for i < len(g.times) && g.times[i].Before(start) {
			i++
		}
		g.times = g.times[i:]
		n = len(g.times)
	}
	if n < threshold {
		return nil
	}
	return a.result(el, isDistinct, n)
}

// result describes a firing group and starts it over.
func (a *aggregator) result(el *list.Element, isDistinct bool, n int) *aggResult {
	g := el.Value.(*group)
	res := &aggResult{count: n}
	if isDistinct {
		res.distinct = make([]string, 0, len(g.distinct))
		for v := range g.distinct {
			res.distinct = append(res.distinct, v)
		}
		sort.Strings(res.distinct)
		if len(res.distinct) > maxDistinctEvidence {
			res.distinct = res.distinct[:maxDistinctEvidence]
		}
	}
	a.remove(el)
	return res
}

// dropOldest deletes the n values seen least recently.
func dropOldest(m map[string]time.Time, n int) {
	type vt struct {
		v string
		t time.Time
	}
	all := make([]vt, 0, len(m))
	for v, t := range m {
		all = append(all, vt{v, t})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	for _, x := range all[:n] {
		delete(m, x.v)
	}
}

func (a *aggregator) remove(el *list.Element) {
	delete(a.groups, el.Value.(*group).key)
	a.lru.Remove(el)
}

// suppressEntry is an emitted alert that later identical alerts fold into.
type suppressEntry struct {
	key     string
	alertID string
	until   time.Time
	count   int
}

// fold reports whether an alert with key is a repeat of one emitted less
// than its suppress window ago; if so it adds n to that alert's count.
func (e *Engine) fold(key string, now time.Time, n int) bool {
	el, ok := e.suppress[key]
	if !ok {
		return false
	}
	se := el.Value.(*suppressEntry)
	if !now.Before(se.until) {
		delete(e.suppress, key)
		e.suppressList.Remove(el)
		return false
	}
	se.count += n
	if e.opts.OnFold != nil {
		e.opts.OnFold(se.alertID, se.count)
	}
	return true
}

// remember starts the suppress window of an emitted alert.
func (e *Engine) remember(key, alertID string, now, until time.Time, count int) {
	for i := 0; i < 2; i++ { // drop expired entries on the way
		front := e.suppressList.Front()
		if front == nil || now.Before(front.Value.(*suppressEntry).until) {
			break
		}
		delete(e.suppress, front.Value.(*suppressEntry).key)
		e.suppressList.Remove(front)
	}
	if len(e.suppress) >= e.opts.MaxSuppressed {
		front := e.suppressList.Front()
		if now.Before(front.Value.(*suppressEntry).until) {
			e.stats.SuppressEvictions++
		}
		delete(e.suppress, front.Value.(*suppressEntry).key)
		e.suppressList.Remove(front)
	}
	e.suppress[key] = e.suppressList.PushBack(&suppressEntry{key: key, alertID: alertID, until: until, count: count})
}
