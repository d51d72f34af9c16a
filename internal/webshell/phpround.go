package webshell

// Summary rounds of analyzePHP run every function and the top level again
// until the function summaries stop changing, which usually costs one last
// round that only confirms the previous one. That round can be skipped when
// it would repeat the previous round exactly: a round is a deterministic
// walk whose only inputs besides the tokens are the state carried over
// between rounds (function summaries, property taint, define()d constants,
// closure variables and a few capability flags). roundLog records every
// value of that state a round reads; when each read saw the value the state
// holds at the end of the round, the next round would read the same values,
// compute the same things and change nothing, so analyzePHP stops there.

// noRoundSkip disables skipping settled rounds (tests compare both ways).
var noRoundSkip bool

// funcSummary is the part of a phpFunc that summary rounds compute.
type funcSummary struct {
	sinks                                       [nSinkKinds]uint64
	ret, callee, calleeIn, writePath, writeData uint64
	dbHost                                      uint64
}

func (f *phpFunc) summary() funcSummary {
	return funcSummary{f.sinks, f.ret, f.callee, f.calleeIn, f.writePath, f.writeData, f.dbHost}
}

type constObs struct {
	v  constVal
	ok bool
}

type closureObs struct {
	k  int
	ok bool
}

type boolObs struct {
	v, seen bool
}

// roundLog is what one summary round read of the carried-over state.
type roundLog struct {
	funcs    map[*phpFunc]funcSummary
	props    map[string]uint64
	consts   map[string]uint64
	vals     map[string]constObs
	closures map[string]closureObs
	pipes    map[string]bool
	comShell boolObs
	dynVar   boolObs
	// changed: an item read twice in the round changed in between.
	// closureRan: a closure body was run (closures run once per file, so
	// the next round would not run it again: it would not repeat this one).
	changed, closureRan bool
}

// note records an observation of key in *m (allocated on first use); a
// second observation that differs from the first marks the round as
// changed.
func note[K comparable, V comparable](l *roundLog, m *map[K]V, key K, v V) {
	if old, ok := (*m)[key]; ok {
		if old != v {
			l.changed = true
		}
		return
	}
	if *m == nil {
		*m = map[K]V{}
	}
	(*m)[key] = v
}

func (l *roundLog) noteBool(o *boolObs, v bool) {
	if o.seen && o.v != v {
		l.changed = true
	}
	o.v, o.seen = v, true
}

// settled reports whether every read of the round saw the value the state
// holds now, at the end of the round.
func (l *roundLog) settled(a *phpAn) bool {
	if l.changed || l.closureRan {
		return false
	}
	for f, s := range l.funcs {
		if f.summary() != s {
			return false
		}
	}
	for n, t := range l.props {
		if a.props[n] != t {
			return false
		}
	}
	for n, t := range l.consts {
		if a.constTaint[n] != t {
			return false
		}
	}
	for n, o := range l.vals {
		if v, ok := a.constVals[n]; v != o.v || ok != o.ok {
			return false
		}
	}
	for n, o := range l.closures {
		if k, ok := a.closureVars[n]; k != o.k || ok != o.ok {
			return false
		}
	}
	for n, v := range l.pipes {
		if a.caps.pipeVars[n] != v {
			return false
		}
	}
	if l.comShell.seen && l.comShell.v != a.comShell || l.dynVar.seen && l.dynVar.v != a.caps.dynVarRead {
		return false
	}
	return true
}

// The accessors below read carried-over state and log the read during
// summary rounds (a.log is nil otherwise).

func (a *phpAn) readSummary(f *phpFunc) {
	if a.log != nil {
		note(a.log, &a.log.funcs, f, f.summary())
	}
}

func (a *phpAn) propTaint(name string) uint64 {
	t := a.props[name]
	if a.log != nil {
		note(a.log, &a.log.props, name, t)
	}
	return t
}

func (a *phpAn) constTaintOf(name string) uint64 {
	t := a.constTaint[name]
	if a.log != nil {
		note(a.log, &a.log.consts, name, t)
	}
	return t
}

func (a *phpAn) constValOf(name string) (constVal, bool) {
	v, ok := a.constVals[name]
	if a.log != nil {
		note(a.log, &a.log.vals, name, constObs{v, ok})
	}
	return v, ok
}

func (a *phpAn) closureVar(name string) (int, bool) {
	k, ok := a.closureVars[name]
	if a.log != nil {
		note(a.log, &a.log.closures, name, closureObs{k, ok})
	}
	return k, ok
}

func (a *phpAn) pipeVar(name string) bool {
	v := a.caps.pipeVars[name]
	if a.log != nil {
		note(a.log, &a.log.pipes, name, v)
	}
	return v
}

func (a *phpAn) hasComShell() bool {
	if a.log != nil {
		a.log.noteBool(&a.log.comShell, a.comShell)
	}
	return a.comShell
}

func (a *phpAn) hasDynVarRead() bool {
	if a.log != nil {
		a.log.noteBool(&a.log.dynVar, a.caps.dynVarRead)
	}
	return a.caps.dynVarRead
}
