// Package detect is Vigil's rule engine. It loads the YAML rule files of
// rules/ (lists, rules and their tests; rules/README.md), compiles every
// CEL expression of a rule once, indexes rules by event kind and turns
// events into alerts: condition, allow-lists, windowed aggregation
// (sliding windows, aggregate.go), suppression of repeats and the rule's
// response, which the agent's responder carries out.
//
// CEL (cel-go) is the condition language, as in Kubernetes and Tetragon.
// What is hand-written here serves speed, since the agent judges hundreds
// of thousands of events a second per core and cel-go's generic routes
// would allocate a map per event or reflect on every field access:
//   - types.go declares the event types to CEL with a getter per field;
//   - fastfield.go plans `proc.exe` as a direct, per-event cached read;
//   - regex.go gives constant patterns a literal prefilter;
//   - named lists are constants, so `x in lists.shells` is a set lookup;
//   - native.go runs expressions of only fields, constants, &&, ||, !,
//     ==, != and string + without cel-go.
//
// BenchmarkReplay measures the shipped rules; BenchmarkRules each rule.
package detect

import (
	"container/list"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/severity"
)

// Options configure an Engine.
type Options struct {
	// Host is the alert's host; empty means the event's Host.
	Host string
	// Now is the clock for aggregation windows and suppression. Nil means
	// the event's time, which makes replay and tests deterministic.
	Now func() time.Time
	// IOC are IOC sets for ioc(), added to (and overriding) RuleSet.IOC.
	IOC map[string][]string
	// Allow holds extra allow expressions per rule ID (from the agent
	// configuration or an analyst's "allow" on an alert), compiled like the
	// rule's own allow entries.
	Allow map[string][]string
	// ResponseOverride says per rule ID whether to act (true) or only
	// alert (false), over the rule's response.act.
	ResponseOverride map[string]bool
	// MaxGroups bounds the aggregation groups kept per rule (default
	// 10000); the least recently updated group is evicted first.
	MaxGroups int
	// MaxSuppressed bounds the suppression entries kept (default 100000).
	MaxSuppressed int
	// OnFold, when set, is called when a repeat is folded into an earlier
	// alert, with that alert's ID and its new count.
	OnFold func(alertID string, count int)
}

const (
	defaultMaxGroups     = 10000
	defaultMaxSuppressed = 100000
	defaultSuppress      = 5 * time.Minute
)

// Engine evaluates compiled rules. Process is safe for concurrent use, but
// events are judged one at a time.
type Engine struct {
	mu     sync.Mutex
	opts   Options
	rules  []*compiled
	byKind map[event.Kind][]*compiled
	ctx    *evalContext
	fields *fieldReaders
	act    activation
	lists  *listsValue

	suppress     map[string]*list.Element // of *suppressEntry
	suppressList *list.List               // least recently alerted first
	stats        Stats
}

// Stats are the engine's counters since New (or Reset).
type Stats struct {
	Events     uint64            `json:"events"`
	ByKind     map[string]uint64 `json:"by_kind"`
	RuleHits   map[string]uint64 `json:"rule_hits"`  // alerts emitted per rule
	Allowed    map[string]uint64 `json:"allowed"`    // matches dropped by an allow entry
	Suppressed map[string]uint64 `json:"suppressed"` // repeats folded into an earlier alert
	EvalErrors map[string]uint64 `json:"eval_errors"`
	// Evictions counts aggregation groups dropped, per rule, while their
	// window was still open.
	Evictions map[string]uint64 `json:"evictions"`
	// SuppressEvictions counts suppression entries dropped before expiry.
	SuppressEvictions uint64 `json:"suppress_evictions"`
	// LastError is the most recent evaluation error, for diagnosis.
	LastError string `json:"last_error,omitempty"`
}

func newStats() Stats {
	return Stats{ByKind: map[string]uint64{}, RuleHits: map[string]uint64{}, Allowed: map[string]uint64{},
		Suppressed: map[string]uint64{}, EvalErrors: map[string]uint64{}, Evictions: map[string]uint64{}}
}

func (s Stats) clone() Stats {
	c := s
	cp := func(m map[string]uint64) map[string]uint64 {
		out := make(map[string]uint64, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	c.ByKind, c.RuleHits, c.Allowed = cp(s.ByKind), cp(s.RuleHits), cp(s.Allowed)
	c.Suppressed, c.EvalErrors, c.Evictions = cp(s.Suppressed), cp(s.EvalErrors), cp(s.Evictions)
	return c
}

// compiled is a rule ready to evaluate.
type compiled struct {
	rule        *Rule
	severity    severity.Level
	cond        cel.Program
	allow       []cel.Program
	groupBy     cel.Program
	distinct    cel.Program
	weight      cel.Program
	fireOn      cel.Program
	suppressKey cel.Program
	evidence    []namedProgram
	window      time.Duration
	threshold   int
	suppress    time.Duration
	action      string
	act         bool
	agg         *aggregator
}

type namedProgram struct {
	name string
	prg  cel.Program
}

// New compiles rs. Any problem other than a missing test is an error.
func New(rs *RuleSet, opts Options) (*Engine, error) {
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = defaultMaxGroups
	}
	if opts.MaxSuppressed <= 0 {
		opts.MaxSuppressed = defaultMaxSuppressed
	}
	e, probs := compile(rs, opts)
	if len(probs) > 0 {
		msgs := make([]string, len(probs))
		for i, p := range probs {
			msgs[i] = p.String()
		}
		return nil, fmt.Errorf("rules: %s", strings.Join(msgs, "\n"))
	}
	return e, nil
}

// compile builds an engine and reports every problem it finds on the way.
func compile(rs *RuleSet, opts Options) (*Engine, []Problem) {
	probs := rs.validate()
	iocs := map[string]*iocSet{}
	for n, s := range rs.IOC {
		iocs[n] = newIOCSet(s)
	}
	for n, s := range opts.IOC {
		iocs[n] = newIOCSet(s)
	}
	ctx := &evalContext{basename: memo{fn: basename}, dirname: memo{fn: dirname}}
	env, err := newEnv(rs.Lists, iocs, ctx)
	if err != nil {
		return nil, append(probs, Problem{Message: err.Error()})
	}
	e := &Engine{opts: opts, byKind: map[event.Kind][]*compiled{}, ctx: ctx,
		lists: &listsValue{sets: map[string]*stringSet{}}, stats: newStats()}
	for n, l := range rs.Lists {
		e.lists.sets[n] = newStringSet(l)
	}
	e.act.e = e
	e.resetState()
	fr := &fieldReaders{ctx: ctx, readers: map[string]*fieldReader{}}
	e.fields = fr
	for _, f := range rs.Files {
		for _, r := range f.Rules {
			c, rp := compileRule(env, r, opts, iocs, fr)
			probs = append(probs, rp...)
			if c == nil {
				continue
			}
			e.rules = append(e.rules, c)
			for _, k := range r.Events {
				e.byKind[event.Kind(k)] = append(e.byKind[event.Kind(k)], c)
			}
		}
	}
	for id := range opts.Allow {
		if !hasRule(rs, id) {
			probs = append(probs, Problem{Rule: id, Message: "allow entry for an unknown rule"})
		}
	}
	return e, probs
}

func hasRule(rs *RuleSet, id string) bool {
	for _, f := range rs.Files {
		for _, r := range f.Rules {
			if r.ID == id {
				return true
			}
		}
	}
	return false
}

func compileRule(env *cel.Env, r *Rule, opts Options, iocs map[string]*iocSet, fr *fieldReaders) (*compiled, []Problem) {
	var probs []Problem
	prob := func(key, format string, args ...any) {
		probs = append(probs, Problem{File: r.File, Line: lineOf(r, key), Rule: r.ID, Message: fmt.Sprintf(format, args...)})
	}
	prog := func(key, expr string, want *cel.Type) cel.Program {
		p, err := compileExpr(env, expr, want, iocs, fr)
		if err != nil {
			prob(key, "%s: %v", key, err)
		}
		return p
	}
	c := &compiled{rule: r, action: r.Response.Action, act: r.Response.Act, suppress: defaultSuppress}
	c.severity, _ = severity.Parse(r.Severity)
	if c.action == "" {
		c.action = "none"
	}
	if v, ok := opts.ResponseOverride[r.ID]; ok {
		c.act = v
	}
	if strings.TrimSpace(r.Condition) == "" {
		prob("condition", "condition: missing")
	} else {
		c.cond = prog("condition", r.Condition, cel.BoolType)
	}
	for _, a := range r.Allow {
		c.allow = append(c.allow, prog("allow", a, cel.BoolType))
	}
	for i, a := range opts.Allow[r.ID] {
		p, err := compileExpr(env, a, cel.BoolType, iocs, fr)
		if err != nil {
			probs = append(probs, Problem{Rule: r.ID, Message: fmt.Sprintf("configured allow %d: %v", i+1, err)})
		}
		c.allow = append(c.allow, p)
	}
	if ag := r.Aggregate; ag != nil {
		d, err := time.ParseDuration(ag.Window)
		switch {
		case err != nil:
			prob("aggregate.window", "aggregate.window %q: want a Go duration such as 60s", ag.Window)
		case d <= 0:
			prob("aggregate.window", "aggregate.window %q: want a positive duration", ag.Window)
		}
		c.window = d
		if ag.Threshold < 1 {
			prob("aggregate.threshold", "aggregate.threshold %d: want at least 1", ag.Threshold)
		}
		c.threshold = ag.Threshold
		if strings.TrimSpace(ag.GroupBy) == "" {
			prob("aggregate.group_by", "aggregate.group_by: missing")
		} else {
			c.groupBy = prog("aggregate.group_by", ag.GroupBy, cel.StringType)
		}
		if strings.TrimSpace(ag.Distinct) != "" {
			c.distinct = prog("aggregate.distinct", ag.Distinct, cel.StringType)
		}
		if strings.TrimSpace(ag.Weight) != "" {
			c.weight = prog("aggregate.weight", ag.Weight, cel.IntType)
		}
		if strings.TrimSpace(ag.FireOn) != "" {
			c.fireOn = prog("aggregate.fire_on", ag.FireOn, cel.BoolType)
		}
		c.agg = newAggregator(opts.MaxGroups)
	}
	if r.Suppress != "" {
		d, err := time.ParseDuration(r.Suppress)
		if err != nil || d < 0 {
			prob("suppress", "suppress %q: want a Go duration such as 10m (0s: never suppress)", r.Suppress)
		}
		c.suppress = d
	}
	switch {
	case strings.TrimSpace(r.SuppressKey) != "":
		c.suppressKey = prog("suppress_key", r.SuppressKey, cel.StringType)
	case c.groupBy != nil:
		c.suppressKey = c.groupBy
	default:
		c.suppressKey = prog("suppress_key", "proc.exec_id", cel.StringType)
	}
	names := make([]string, 0, len(r.Evidence))
	for n := range r.Evidence {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, err := compileExpr(env, r.Evidence[n], nil, iocs, fr)
		if err != nil {
			prob("evidence", "evidence %q: %v", n, err)
		}
		c.evidence = append(c.evidence, namedProgram{name: n, prg: p})
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return c, nil
}

func lineOf(r *Rule, key string) int {
	if l, ok := r.keyLines[key]; ok {
		return l
	}
	if i := strings.IndexByte(key, '.'); i > 0 {
		if l, ok := r.keyLines[key[:i]]; ok {
			return l
		}
	}
	return r.Line
}

// compileExpr parses, type-checks and plans one expression. want nil
// accepts any result type.
func compileExpr(env *cel.Env, expr string, want *cel.Type, iocs map[string]*iocSet, fr *fieldReaders) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, errors.New(strings.ReplaceAll(iss.Err().Error(), "\n", " | "))
	}
	if want != nil && !ast.OutputType().IsExactType(want) && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("result is %s, want %s", ast.OutputType(), want)
	}
	if err := checkIOCNames(ast, iocs); err != nil {
		return nil, err
	}
	fields := fr != nil && !shadowsEventObject(ast.NativeRep())
	if fields {
		if p, ok := compileNative(ast.NativeRep(), fr); ok {
			return p, nil
		}
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize), cel.OptimizeRegex(regexOptimizations...)}
	if fields {
		opts = append(opts, cel.CustomDecorator(fr.decorator()))
	}
	prg, err := env.Program(ast, opts...)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return prg, nil
}

// activation resolves the CEL variables against the event being judged,
// without building maps. Absent parts of the event are zero values.
type activation struct {
	e  *Engine
	ev *event.Event
	// The scalar variables, boxed on first use for each event (most rules
	// read none of them); boxed says which are.
	kind, host, source ref.Val
	time               ref.Val
	boxed              uint8
}

const (
	boxedKind uint8 = 1 << iota
	boxedHost
	boxedSource
	boxedTime
)

func (a *activation) set(ev *event.Event) {
	a.ev = ev
	a.boxed = 0
	a.kind, a.host, a.source, a.time = nil, nil, nil, nil
}

// scalar returns the boxed value of one scalar variable of the event.
func (a *activation) scalar(which uint8) ref.Val {
	if a.boxed&which == 0 {
		ev := a.ev
		switch which {
		case boxedKind:
			a.kind = types.String(ev.Kind)
		case boxedHost:
			if a.e.opts.Host != "" {
				a.host = types.String(a.e.opts.Host)
			} else {
				a.host = types.String(ev.Host)
			}
		case boxedSource:
			a.source = types.String(ev.Source)
		case boxedTime:
			a.time = types.Timestamp{Time: ev.Time}
		}
		a.boxed |= which
	}
	switch which {
	case boxedKind:
		return a.kind
	case boxedHost:
		return a.host
	case boxedSource:
		return a.source
	}
	return a.time
}

var (
	zeroProcess   = &event.Process{}
	zeroContainer = &event.Container{}
	zeroFile      = &event.FileInfo{}
	zeroNet       = &event.Network{}
	zeroCred      = &event.CredInfo{}
	zeroPtrace    = &event.PtraceOp{}
	zeroModule    = &event.ModInfo{}
	zeroMemfd     = &event.MemfdInfo{}
	zeroAuth      = &event.AuthInfo{}
)

func orZero[T any](p, zero *T) *T {
	if p == nil {
		return zero
	}
	return p
}

func (a *activation) ResolveName(name string) (any, bool) {
	ev := a.ev
	switch name {
	case "proc":
		return &ev.Process, true
	case "file":
		return orZero(ev.File, zeroFile), true
	case "net":
		return orZero(ev.Net, zeroNet), true
	case "parent":
		return orZero(ev.Parent, zeroProcess), true
	case "kind":
		return a.scalar(boxedKind), true
	case "lists":
		return a.e.lists, true
	case "container":
		return orZero(ev.Container, zeroContainer), true
	case "host":
		return a.scalar(boxedHost), true
	case "time":
		return a.scalar(boxedTime), true
	case "source":
		return a.scalar(boxedSource), true
	case "blocked":
		return types.Bool(ev.Blocked), true
	case "cred":
		return orZero(ev.Cred, zeroCred), true
	case "target":
		return orZero(ev.Target, zeroProcess), true
	case "ptrace":
		return orZero(ev.Ptrace, zeroPtrace), true
	case "module":
		return orZero(ev.Module, zeroModule), true
	case "memfd":
		return orZero(ev.Memfd, zeroMemfd), true
	case "auth":
		return orZero(ev.Auth, zeroAuth), true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Process judges one event and returns the alerts it raises, if any. It
// must not be called again from Options.OnFold. The event must not change
// while Process runs.
func (e *Engine) Process(ev *event.Event) []*alert.Alert {
	if ev == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.Events++
	e.stats.ByKind[string(ev.Kind)]++
	rules := e.byKind[ev.Kind]
	if len(rules) == 0 {
		return nil
	}
	e.act.set(ev)
	e.ctx.ev = ev
	e.ctx.gen++
	defer func() { e.act.set(nil); e.ctx.ev = nil }()
	now := ev.Time
	if e.opts.Now != nil {
		now = e.opts.Now()
	}
	var out []*alert.Alert
	for _, c := range rules {
		if a := e.judge(c, ev, now); a != nil {
			out = append(out, a)
		}
	}
	return out
}

// judge runs one rule on the current event.
func (e *Engine) judge(c *compiled, ev *event.Event, now time.Time) *alert.Alert {
	id := c.rule.ID
	match, ok := e.evalBool(c, c.cond)
	if !ok || !match {
		return nil
	}
	for _, p := range c.allow {
		if allowed, ok := e.evalBool(c, p); ok && allowed {
			e.stats.Allowed[id]++
			return nil
		}
	}
	var aggInfo *aggResult
	if c.agg != nil {
		key, ok := e.evalString(c, c.groupBy)
		if !ok {
			return nil
		}
		distinct := ""
		if c.distinct != nil {
			if distinct, ok = e.evalString(c, c.distinct); !ok {
				return nil
			}
		}
		step := aggStep{value: distinct, isDistinct: c.distinct != nil, weight: 1, sequence: c.fireOn != nil}
		if c.weight != nil {
			v, ok := e.eval(c, c.weight)
			if !ok {
				return nil
			}
			n, isInt := v.(types.Int)
			if !isInt {
				e.stats.EvalErrors[id]++
				e.stats.LastError = fmt.Sprintf("%s: aggregate.weight is %s, want int", id, v.Type().TypeName())
				return nil
			}
			step.weight = int64(n)
		}
		if c.fireOn != nil {
			if step.fire, ok = e.evalBool(c, c.fireOn); !ok {
				return nil
			}
		}
		res, evicted := c.agg.add(key, step, now, c.window, c.threshold)
		if evicted {
			e.stats.Evictions[id]++
		}
		if res == nil {
			return nil
		}
		aggInfo = res
	}
	skey, ok := e.evalString(c, c.suppressKey)
	if !ok {
		skey = ""
	}
	count := 1
	if aggInfo != nil {
		count = aggInfo.count
	}
	if c.suppress > 0 && e.fold(id+"\x00"+skey, now, count) {
		e.stats.Suppressed[id]++
		return nil
	}
	a := e.buildAlert(c, ev, aggInfo, count)
	if c.suppress > 0 {
		e.remember(id+"\x00"+skey, a.ID, now, now.Add(c.suppress), count)
	}
	e.stats.RuleHits[id]++
	return a
}

func (e *Engine) eval(c *compiled, p cel.Program) (ref.Val, bool) {
	v, _, err := p.Eval(&e.act)
	if err != nil {
		e.stats.EvalErrors[c.rule.ID]++
		e.stats.LastError = fmt.Sprintf("%s: %v", c.rule.ID, err)
		return nil, false
	}
	return v, true
}

func (e *Engine) evalBool(c *compiled, p cel.Program) (bool, bool) {
	v, ok := e.eval(c, p)
	if !ok {
		return false, false
	}
	b, isBool := v.(types.Bool)
	if !isBool {
		e.stats.EvalErrors[c.rule.ID]++
		e.stats.LastError = fmt.Sprintf("%s: result is %s, want bool", c.rule.ID, v.Type().TypeName())
		return false, false
	}
	return bool(b), true
}

func (e *Engine) evalString(c *compiled, p cel.Program) (string, bool) {
	v, ok := e.eval(c, p)
	if !ok {
		return "", false
	}
	if s, isStr := v.(types.String); isStr {
		return string(s), true
	}
	return fmt.Sprint(toNative(v)), true
}

// buildAlert makes the alert of a match.
func (e *Engine) buildAlert(c *compiled, ev *event.Event, agg *aggResult, count int) *alert.Alert {
	r := c.rule
	host := e.opts.Host
	if host == "" {
		host = ev.Host
	}
	a := &alert.Alert{
		ID:        alert.NewID(),
		Time:      ev.Time.UTC(),
		Host:      host,
		Rule:      alert.Rule{ID: r.ID, Version: r.Version, Title: r.Title},
		Severity:  c.severity,
		Attack:    alert.Attack{Tactics: orEmpty(r.Attack.Tactics), Techniques: orEmpty(r.Attack.Techniques)},
		Process:   alert.ProcessOf(&ev.Process),
		Container: ev.Container,
		Evidence:  baseEvidence(ev),
		Response:  alert.Response{Action: c.action},
		Count:     count,
	}
	if c.action != "none" {
		if c.act {
			a.Response.Result = "pending"
		} else {
			a.Response.Result = "alert_only"
		}
	}
	for _, np := range c.evidence {
		if v, ok := e.eval(c, np.prg); ok {
			a.Evidence[np.name] = toNative(v)
		}
	}
	if agg != nil {
		a.Evidence["count"] = agg.count
		a.Evidence["window"] = c.window.String()
		if agg.distinct != nil {
			a.Evidence["distinct_values"] = agg.distinct
		}
	}
	return a
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// baseEvidence is what every alert carries about its event: the kind and
// the fields of the event's object.
func baseEvidence(ev *event.Event) map[string]any {
	m := map[string]any{"kind": string(ev.Kind)}
	put := func(k string, v any) {
		switch x := v.(type) {
		case string:
			if x == "" {
				return
			}
		case int:
			if x == 0 {
				return
			}
		}
		m[k] = v
	}
	if f := ev.File; f != nil {
		put("file.op", string(f.Op))
		put("file.path", f.Path)
		put("file.new_path", f.NewPath)
	}
	if n := ev.Net; n != nil {
		put("net.protocol", n.Protocol)
		put("net.src_ip", n.SrcIP)
		put("net.src_port", n.SrcPort)
		put("net.dst_ip", n.DstIP)
		put("net.dst_port", n.DstPort)
		put("net.new_state", n.NewState)
	}
	if c := ev.Cred; c != nil {
		put("cred.syscall", c.Syscall)
		m["cred.old_uid"], m["cred.new_uid"] = c.OldUID, c.NewUID
		m["cred.old_euid"], m["cred.new_euid"] = c.OldEUID, c.NewEUID
	}
	if t := ev.Target; t != nil {
		put("target.pid", t.PID)
		put("target.exe", t.Exe)
		put("target.exec_id", t.ExecID)
	}
	if p := ev.Ptrace; p != nil {
		put("ptrace.request", p.Request)
	}
	if mo := ev.Module; mo != nil {
		put("module.name", mo.Name)
		put("module.syscall", mo.Syscall)
		put("module.path", mo.Path)
	}
	if mf := ev.Memfd; mf != nil {
		put("memfd.name", mf.Name)
	}
	if au := ev.Auth; au != nil {
		put("auth.service", au.Service)
		put("auth.outcome", au.Outcome)
		put("auth.user", au.User)
		put("auth.src_ip", au.SrcIP)
		put("auth.detail", au.Detail)
		put("auth.by_user", au.ByUser)
	}
	if ev.Parent != nil {
		put("parent.exe", ev.Parent.Exe)
	}
	return m
}

// toNative turns a CEL value into a JSON-serialisable Go value.
func toNative(v ref.Val) any {
	switch x := v.(type) {
	case types.String:
		return string(x)
	case types.Int:
		return int64(x)
	case types.Uint:
		return uint64(x)
	case types.Double:
		return float64(x)
	case types.Bool:
		return bool(x)
	case types.Bytes:
		return []byte(x)
	case types.Null:
		return nil
	case types.Timestamp:
		return x.Time.UTC()
	case types.Duration:
		return x.Duration.String()
	case *object:
		return x.ptr
	case *ancestorList:
		return x.list
	}
	if l, ok := v.(traits.Lister); ok {
		out := []any{}
		for it := l.Iterator(); it.HasNext() == types.True; {
			out = append(out, toNative(it.Next()))
		}
		return out
	}
	if m, ok := v.(traits.Mapper); ok {
		out := map[string]any{}
		for it := m.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			out[fmt.Sprint(toNative(k))] = toNative(m.Get(k))
		}
		return out
	}
	return fmt.Sprint(v.Value())
}

// Stats returns a copy of the counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats.clone()
}

// Reset forgets aggregation groups, suppression entries and counters, as if
// the engine were new; tests reuse one compiled engine this way.
func (e *Engine) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetState()
	e.stats = newStats()
}

func (e *Engine) resetState() {
	e.suppress = map[string]*list.Element{}
	e.suppressList = list.New()
	for _, c := range e.rules {
		if c.agg != nil {
			c.agg.reset()
		}
	}
}

// RuleIDs lists the compiled rules' IDs in load order.
func (e *Engine) RuleIDs() []string {
	out := make([]string, len(e.rules))
	for i, c := range e.rules {
		out[i] = c.rule.ID
	}
	return out
}
