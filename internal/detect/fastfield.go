package detect

import (
	"fmt"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/vigilsec/vigil/internal/event"
)

// Reading `proc.exe` through cel-go's attribute machinery costs a name
// lookup, a qualifier chain and two value adaptations, and rules read the
// same few fields again and again. A planner decorator replaces each
// `variable.field` read of an event object with a fieldRead, which calls
// the field's getter directly and keeps the value for the rest of the
// event (every rule of the engine shares it).

// eventObjects maps the CEL variables that are event objects to their
// type and to the object of an event.
var eventObjects = map[string]struct {
	ot  *objectType
	get func(*event.Event) any
}{
	"proc":      {processType, func(ev *event.Event) any { return &ev.Process }},
	"parent":    {processType, func(ev *event.Event) any { return orZero(ev.Parent, zeroProcess) }},
	"target":    {processType, func(ev *event.Event) any { return orZero(ev.Target, zeroProcess) }},
	"container": {containerType, func(ev *event.Event) any { return orZero(ev.Container, zeroContainer) }},
	"file":      {fileType, func(ev *event.Event) any { return orZero(ev.File, zeroFile) }},
	"net":       {netType, func(ev *event.Event) any { return orZero(ev.Net, zeroNet) }},
	"cred":      {credType, func(ev *event.Event) any { return orZero(ev.Cred, zeroCred) }},
	"ptrace":    {ptraceType, func(ev *event.Event) any { return orZero(ev.Ptrace, zeroPtrace) }},
	"module":    {moduleType, func(ev *event.Event) any { return orZero(ev.Module, zeroModule) }},
	"memfd":     {memfdType, func(ev *event.Event) any { return orZero(ev.Memfd, zeroMemfd) }},
	"auth":      {authType, func(ev *event.Event) any { return orZero(ev.Auth, zeroAuth) }},
}

// fieldReader reads one field of the current event, once per event.
type fieldReader struct {
	ctx *evalContext
	obj func(*event.Event) any
	get func(any) ref.Val
	gen uint64
	val ref.Val
}

func (r *fieldReader) read() ref.Val {
	if r.gen != r.ctx.gen || r.val == nil {
		if r.ctx.ev == nil {
			return types.NewErr("no event")
		}
		r.val, r.gen = r.get(r.obj(r.ctx.ev)), r.ctx.gen
	}
	return r.val
}

// fieldRead is the planned form of `variable.field`.
type fieldRead struct {
	id int64
	r  *fieldReader
}

func (f *fieldRead) ID() int64                                { return f.id }
func (f *fieldRead) Exec(*interpreter.ExecutionFrame) ref.Val { return f.r.read() }
func (f *fieldRead) Eval(interpreter.Activation) ref.Val      { return f.r.read() }

// fieldReaders hands out one reader per "variable.field" of an engine.
type fieldReaders struct {
	ctx     *evalContext
	readers map[string]*fieldReader
}

func (fr *fieldReaders) decorator() interpreter.InterpretableDecorator {
	return func(i interpreter.Interpretable) (interpreter.Interpretable, error) {
		ia, ok := i.(interpreter.InterpretableAttribute)
		// Only plain reads: presence tests (has()) and optional selects
		// wrap the same attribute in other node types. cel-go exports no
		// name for the plain node, hence the type name; TestConditions
		// (has_present, has_absent) fails if this stops holding.
		if !ok || fmt.Sprintf("%T", i) != "*interpreter.evalAttr" {
			return i, nil
		}
		na, ok := ia.Attr().(interpreter.NamespacedAttribute)
		if !ok {
			return i, nil
		}
		names, quals := na.CandidateVariableNames(), na.Qualifiers()
		if len(names) != 1 || len(quals) != 1 || quals[0].IsOptional() {
			return i, nil
		}
		obj, ok := eventObjects[names[0]]
		if !ok {
			return i, nil
		}
		cq, ok := quals[0].(interpreter.ConstantQualifier)
		if !ok {
			return i, nil
		}
		field, ok := cq.Value().(types.String)
		if !ok {
			return i, nil
		}
		get, ok := obj.ot.get[string(field)]
		if !ok {
			return i, nil
		}
		return &fieldRead{id: i.ID(), r: fr.reader(names[0], string(field), obj.get, get)}, nil
	}
}

// reader returns the engine's one reader of object.field.
func (fr *fieldReaders) reader(object, field string, obj func(*event.Event) any, get func(any) ref.Val) *fieldReader {
	key := object + "." + field
	r, ok := fr.readers[key]
	if !ok {
		r = &fieldReader{ctx: fr.ctx, obj: obj, get: get}
		fr.readers[key] = r
	}
	return r
}

// shadowsEventObject reports whether a comprehension in a declares a
// variable named like an event object (`proc.args.exists(proc, …)`), in
// which case fieldRead must not be used.
func shadowsEventObject(a *ast.AST) bool {
	found := false
	ast.MatchDescendants(ast.NavigateAST(a), func(e ast.NavigableExpr) bool {
		if e.Kind() != ast.ComprehensionKind {
			return false
		}
		c := e.AsComprehension()
		for _, v := range []string{c.IterVar(), c.IterVar2(), c.AccuVar()} {
			if _, ok := eventObjects[v]; ok {
				found = true
			}
		}
		return false
	})
	return found
}
