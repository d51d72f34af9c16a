package detect

import (
	"regexp"
	"regexp/syntax"
	"strings"

	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// Regular expressions dominate rule evaluation: most rules run a pattern
// over every command line. Most patterns cannot match unless the text
// holds one of a few literals ("curl", "wget", "/dev/tcp/"), so each
// constant pattern gets a prefilter of such literals, derived from its
// syntax tree, that rejects most texts with a substring search.

// regexOptimizations replace cel-go's own `matches` optimization (they are
// keyed by overload ID, which cel-go looks up first).
var regexOptimizations = []*interpreter.RegexOptimization{
	{Function: overloads.Matches, OverloadID: overloads.MatchesString, RegexIndex: 1, Factory: regexFactory},
	{Function: overloads.Matches, OverloadID: overloads.Matches, RegexIndex: 1, Factory: regexFactory},
}

func regexFactory(call interpreter.InterpretableCall, pattern string) (interpreter.InterpretableCall, error) {
	m, err := newMatcher(pattern)
	if err != nil {
		return nil, err
	}
	args := call.Args()
	if len(args) != 2 {
		return call, nil
	}
	return &regexCall{id: call.ID(), function: call.Function(), overload: call.OverloadID(), args: args, m: m}, nil
}

// regexCall is `text.matches(constant)`. Unlike interpreter.NewCall it
// evaluates its one variable argument without allocating.
type regexCall struct {
	id       int64
	function string
	overload string
	args     []interpreter.InterpretableV2
	m        *matcher
}

func (c *regexCall) ID() int64                           { return c.id }
func (c *regexCall) Function() string                    { return c.function }
func (c *regexCall) OverloadID() string                  { return c.overload }
func (c *regexCall) Args() []interpreter.InterpretableV2 { return c.args }
func (c *regexCall) Eval(vars interpreter.Activation) ref.Val {
	return interpreter.EvalActivation(vars, c.Exec)
}

func (c *regexCall) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	v := c.args[0].Exec(frame)
	in, ok := v.(types.String)
	if !ok {
		if types.IsUnknownOrError(v) {
			return v
		}
		return types.NewErrWithNodeID(c.id, "no such overload: %s", c.function)
	}
	return types.Bool(c.m.match(string(in)))
}

// matcher is a compiled pattern and its prefilter.
type matcher struct {
	re   *regexp.Regexp
	lits []string // the text must contain one of these (none: no prefilter)
	fold bool     // compare lits ignoring ASCII case
}

func newMatcher(pattern string) (*matcher, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	m := &matcher{re: re}
	if tree, err := syntax.Parse(pattern, syntax.Perl); err == nil {
		if lits, fold, ok := requiredLiterals(tree.Simplify()); ok {
			m.lits, m.fold = lits, fold
			if fold {
				for i, l := range lits {
					m.lits[i] = strings.ToLower(l)
				}
			}
		}
	}
	return m, nil
}

func (m *matcher) match(s string) bool {
	if len(m.lits) > 0 && !m.mayMatch(s) {
		return false
	}
	return m.re.MatchString(s)
}

func (m *matcher) mayMatch(s string) bool {
	if m.fold {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 { // Unicode case folding: let the regexp decide
				return true
			}
		}
		for _, l := range m.lits {
			if containsFoldASCII(s, l) {
				return true
			}
		}
		return false
	}
	for _, l := range m.lits {
		if strings.Contains(s, l) {
			return true
		}
	}
	return false
}

// containsFoldASCII reports whether s contains lower (lower-case ASCII)
// ignoring ASCII case.
func containsFoldASCII(s, lower string) bool {
	n := len(lower)
	if n == 0 {
		return true
	}
	first := lower[0]
	for i := 0; i+n <= len(s); i++ {
		if toLowerASCII(s[i]) != first {
			continue
		}
		j := 1
		for j < n && toLowerASCII(s[i+j]) == lower[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func toLowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// maxPrefilterLiterals bounds the alternatives a prefilter tries, and the
// strings an exact set may hold.
const maxPrefilterLiterals = 16

// litInfo is what the prefilter analysis knows of a pattern node.
type litInfo struct {
	// exact, when known, is every string the node can match.
	exact    []string
	hasExact bool
	// need is a set of literals one of which every match contains; nil
	// when unknown.
	need []string
	fold bool
}

// necessary is the node's best "must contain one of" set.
func (l litInfo) necessary() []string {
	if l.hasExact && !containsEmpty(l.exact) {
		return l.exact
	}
	return l.need
}

// requiredLiterals returns literals one of which every match of re
// contains, whether they are to be compared ignoring case, and ok false
// when there is no such set worth checking.
func requiredLiterals(re *syntax.Regexp) (lits []string, fold bool, ok bool) {
	info := analyze(re)
	n := info.necessary()
	if len(n) == 0 || containsEmpty(n) || len(n) > maxPrefilterLiterals {
		return nil, false, false
	}
	return n, info.fold, true
}

func exactInfo(fold bool, s ...string) litInfo {
	return litInfo{exact: s, hasExact: true, fold: fold}
}

func analyze(re *syntax.Regexp) litInfo {
	fold := re.Flags&syntax.FoldCase != 0
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return exactInfo(false, "")
	case syntax.OpLiteral:
		s := string(re.Rune)
		if fold && !isASCII(s) {
			return litInfo{}
		}
		return exactInfo(fold, s)
	case syntax.OpCharClass:
		// A small class ([46], [ceE]) is a few one-rune strings.
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(out) >= 4 {
					return litInfo{}
				}
				out = append(out, string(r))
			}
		}
		if len(out) == 0 {
			return litInfo{}
		}
		return exactInfo(false, out...)
	case syntax.OpCapture:
		return analyze(re.Sub[0])
	case syntax.OpQuest:
		sub := analyze(re.Sub[0])
		if sub.hasExact && len(sub.exact) < maxPrefilterLiterals {
			return litInfo{exact: append([]string{""}, sub.exact...), hasExact: true, fold: sub.fold}
		}
		return litInfo{}
	case syntax.OpPlus:
		sub := analyze(re.Sub[0])
		return litInfo{need: sub.necessary(), fold: sub.fold}
	case syntax.OpRepeat:
		if re.Min >= 1 {
			sub := analyze(re.Sub[0])
			return litInfo{need: sub.necessary(), fold: sub.fold}
		}
		return litInfo{}
	case syntax.OpAlternate:
		out := litInfo{hasExact: true}
		needOK := true
		for _, sub := range re.Sub {
			si := analyze(sub)
			out.fold = out.fold || si.fold
			if out.hasExact && si.hasExact && len(out.exact)+len(si.exact) <= maxPrefilterLiterals {
				out.exact = append(out.exact, si.exact...)
			} else {
				out.hasExact, out.exact = false, nil
			}
			if n := si.necessary(); n == nil || containsEmpty(n) {
				needOK = false
			} else if needOK {
				out.need = append(out.need, n...)
			}
		}
		if !needOK || len(out.need) > maxPrefilterLiterals {
			out.need = nil
		}
		return out
	case syntax.OpConcat:
		// Multiply out exact sets while they stay small; each run that
		// cannot grow further, and each part's own set, is a candidate;
		// keep the most selective (longest shortest literal).
		var best []string
		bestFold := false
		consider := func(c []string, f bool) {
			if len(c) == 0 || containsEmpty(c) || len(c) > maxPrefilterLiterals {
				return
			}
			if best == nil || shortest(c) > shortest(best) {
				best, bestFold = c, f
			}
		}
		cur, curFold, curOK := []string{""}, false, true
		allExact := true
		for _, sub := range re.Sub {
			si := analyze(sub)
			if curOK && si.hasExact && len(cur)*len(si.exact) <= maxPrefilterLiterals {
				cur = product(cur, si.exact)
				curFold = curFold || si.fold
				continue
			}
			allExact = false
			if curOK {
				consider(cur, curFold)
			}
			if si.hasExact {
				cur, curFold, curOK = si.exact, si.fold, true
			} else {
				consider(si.need, si.fold)
				cur, curFold, curOK = []string{""}, false, true
			}
		}
		if curOK && len(cur) > 0 {
			if allExact {
				return litInfo{exact: cur, hasExact: true, fold: curFold}
			}
			consider(cur, curFold)
		}
		return litInfo{need: best, fold: bestFold}
	}
	return litInfo{}
}

func product(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return out
}

func containsEmpty(l []string) bool {
	for _, s := range l {
		if s == "" {
			return true
		}
	}
	return false
}

func shortest(l []string) int {
	n := -1
	for _, s := range l {
		if n < 0 || len(s) < n {
			n = len(s)
		}
	}
	return n
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
