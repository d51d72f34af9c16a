package detect

import (
	"context"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/vigilsec/vigil/internal/event"
)

// Many rule expressions are no more than event fields, constants, &&, ||,
// !, ==, != and string + (`auth.outcome == "failure" && auth.src_ip !=
// ""`, a group_by of `auth.src_ip`). cel-go evaluates even those through
// an execution frame, a deferred recovery and boxed intermediate values,
// which for the auth rules cost more than the rest of the event's path.
// Such an expression is compiled here into Go closures over the engine's
// field readers instead. Every leaf is a field of the current event or a
// constant of type string, int or bool, and every operator gets operands of
// one such type, as the checker has verified, so no step can fail and the
// result is the one cel-go would give; anything else (a function, a
// macro, a list, `in`, a has() test, another type) stays with cel-go.

// nativeProgram is a compiled expression evaluated without cel-go.
type nativeProgram struct {
	fr   *fieldReaders
	eval func() ref.Val
}

// Eval evaluates the expression on the engine's current event; vars is
// ignored (the engine's activation resolves the same event).
func (p *nativeProgram) Eval(any) (ref.Val, *cel.EvalDetails, error) {
	if p.fr.ctx.ev == nil {
		err := types.NewErr("no event")
		return err, nil, err.(*types.Err)
	}
	return p.eval(), nil, nil
}

// ContextEval is Eval; the expression is too small to need cancelling.
func (p *nativeProgram) ContextEval(_ context.Context, vars any) (ref.Val, *cel.EvalDetails, error) {
	return p.Eval(vars)
}

// ConcurrentEval is Eval, its result sent on a buffered channel.
func (p *nativeProgram) ConcurrentEval(_ context.Context, vars any) <-chan cel.EvalResult {
	ch := make(chan cel.EvalResult, 1)
	v, det, err := p.Eval(vars)
	ch <- cel.EvalResult{Val: v, EvalDetails: det, Err: err}
	return ch
}

// compileNative compiles a checked expression natively; ok is false when
// it uses anything beyond what the comment above lists.
func compileNative(a *ast.AST, fr *fieldReaders) (cel.Program, bool) {
	c := &nativeCompiler{a: a, fr: fr}
	e := a.Expr()
	if r := c.field(e); r != nil {
		// A bare field (a group_by, a weight): its value is boxed once
		// per event already.
		return &nativeProgram{fr: fr, eval: r.read}, true
	}
	switch kindOf(a.GetType(e.ID())) {
	case types.StringKind:
		if f := c.str(e); f != nil {
			return &nativeProgram{fr: fr, eval: func() ref.Val { return types.String(f()) }}, true
		}
	case types.IntKind:
		if f := c.int(e); f != nil {
			return &nativeProgram{fr: fr, eval: func() ref.Val { return types.Int(f()) }}, true
		}
	case types.BoolKind:
		if f := c.bool(e); f != nil {
			return &nativeProgram{fr: fr, eval: func() ref.Val { return types.Bool(f()) }}, true
		}
	}
	return nil, false
}

// kindOf is the kind of a checked type, or UnspecifiedKind for any type
// that is not a plain string, int or bool.
func kindOf(t *types.Type) types.Kind {
	if t == nil {
		return types.UnspecifiedKind
	}
	switch k := t.Kind(); k {
	case types.StringKind, types.IntKind, types.BoolKind:
		return k
	}
	return types.UnspecifiedKind
}

type nativeCompiler struct {
	a  *ast.AST
	fr *fieldReaders
}

// eventObject is an entry of eventObjects.
type eventObject = struct {
	ot  *objectType
	get func(*event.Event) any
}

// leaf reports whether e is `object.field` of an event object, with a
// string, int or bool field of the type the checker gave e.
func (c *nativeCompiler) leaf(e ast.Expr) (eventObject, string, bool) {
	if e.Kind() != ast.SelectKind {
		return eventObject{}, "", false
	}
	sel := e.AsSelect()
	op := sel.Operand()
	if sel.IsTestOnly() || op.Kind() != ast.IdentKind {
		return eventObject{}, "", false
	}
	name := op.AsIdent()
	if r, ok := c.a.ReferenceMap()[op.ID()]; !ok || r.Name != name || r.Value != nil {
		return eventObject{}, "", false
	}
	obj, ok := eventObjects[name]
	if !ok {
		return eventObject{}, "", false
	}
	field := sel.FieldName()
	if _, ok := obj.ot.get[field]; !ok {
		return eventObject{}, "", false
	}
	k := kindOf(obj.ot.fieldType(field))
	if k == types.UnspecifiedKind || k != kindOf(c.a.GetType(e.ID())) {
		return eventObject{}, "", false
	}
	return obj, field, true
}

// field returns the engine's reader of e when e is a leaf: its values
// are boxed once per event.
func (c *nativeCompiler) field(e ast.Expr) *fieldReader {
	obj, field, ok := c.leaf(e)
	if !ok {
		return nil
	}
	name := e.AsSelect().Operand().AsIdent()
	return c.fr.reader(name, field, obj.get, obj.ot.get[field])
}

// call returns the function and arguments of a global call.
func call(e ast.Expr) (string, []ast.Expr, bool) {
	if e.Kind() != ast.CallKind {
		return "", nil, false
	}
	cl := e.AsCall()
	if cl.IsMemberFunction() {
		return "", nil, false
	}
	return cl.FunctionName(), cl.Args(), true
}

// sameKind reports the common kind of the arguments, if they have one.
func (c *nativeCompiler) sameKind(args []ast.Expr) types.Kind {
	k := kindOf(c.a.GetType(args[0].ID()))
	for _, x := range args[1:] {
		if kindOf(c.a.GetType(x.ID())) != k {
			return types.UnspecifiedKind
		}
	}
	return k
}

func (c *nativeCompiler) str(e ast.Expr) func() string {
	if kindOf(c.a.GetType(e.ID())) != types.StringKind {
		return nil
	}
	if obj, field, ok := c.leaf(e); ok {
		if get := obj.ot.strs[field]; get != nil {
			ev, read := c.fr.ctx, obj.get
			return func() string { return get(read(ev.ev)) }
		}
		return nil
	}
	if e.Kind() == ast.LiteralKind {
		if s, ok := e.AsLiteral().(types.String); ok {
			return func() string { return string(s) }
		}
		return nil
	}
	fn, args, ok := call(e)
	if !ok {
		return nil
	}
	switch {
	case fn == operators.Add && len(args) == 2 && c.sameKind(args) == types.StringKind:
		l, r := c.str(args[0]), c.str(args[1])
		if l == nil || r == nil {
			return nil
		}
		return func() string { return l() + r() }
	case fn == operators.Conditional && len(args) == 3:
		cond, l, r := c.bool(args[0]), c.str(args[1]), c.str(args[2])
		if cond == nil || l == nil || r == nil {
			return nil
		}
		return func() string {
			if cond() {
				return l()
			}
			return r()
		}
	}
	return nil
}

func (c *nativeCompiler) int(e ast.Expr) func() int64 {
	if kindOf(c.a.GetType(e.ID())) != types.IntKind {
		return nil
	}
	if obj, field, ok := c.leaf(e); ok {
		if get := obj.ot.nums[field]; get != nil {
			ev, read := c.fr.ctx, obj.get
			return func() int64 { return get(read(ev.ev)) }
		}
		return nil
	}
	if e.Kind() == ast.LiteralKind {
		if n, ok := e.AsLiteral().(types.Int); ok {
			return func() int64 { return int64(n) }
		}
		return nil
	}
	fn, args, ok := call(e)
	if ok && fn == operators.Conditional && len(args) == 3 {
		cond, l, r := c.bool(args[0]), c.int(args[1]), c.int(args[2])
		if cond == nil || l == nil || r == nil {
			return nil
		}
		return func() int64 {
			if cond() {
				return l()
			}
			return r()
		}
	}
	return nil
}

func (c *nativeCompiler) bool(e ast.Expr) func() bool {
	if kindOf(c.a.GetType(e.ID())) != types.BoolKind {
		return nil
	}
	if obj, field, ok := c.leaf(e); ok {
		if get := obj.ot.flags[field]; get != nil {
			ev, read := c.fr.ctx, obj.get
			return func() bool { return get(read(ev.ev)) }
		}
		return nil
	}
	if e.Kind() == ast.LiteralKind {
		if b, ok := e.AsLiteral().(types.Bool); ok {
			return func() bool { return bool(b) }
		}
		return nil
	}
	fn, args, ok := call(e)
	if !ok {
		return nil
	}
	switch fn {
	case operators.LogicalAnd, operators.LogicalOr:
		terms := make([]func() bool, len(args))
		for i, x := range args {
			if terms[i] = c.bool(x); terms[i] == nil {
				return nil
			}
		}
		if len(terms) != 2 {
			return nil
		}
		l, r := terms[0], terms[1]
		if fn == operators.LogicalAnd {
			return func() bool { return l() && r() }
		}
		return func() bool { return l() || r() }
	case operators.LogicalNot:
		if len(args) != 1 {
			return nil
		}
		x := c.bool(args[0])
		if x == nil {
			return nil
		}
		return func() bool { return !x() }
	case operators.Equals, operators.NotEquals:
		if len(args) != 2 {
			return nil
		}
		ne := fn == operators.NotEquals
		switch c.sameKind(args) {
		case types.StringKind:
			l, r := c.str(args[0]), c.str(args[1])
			if l == nil || r == nil {
				return nil
			}
			return func() bool { return (l() == r()) != ne }
		case types.IntKind:
			l, r := c.int(args[0]), c.int(args[1])
			if l == nil || r == nil {
				return nil
			}
			return func() bool { return (l() == r()) != ne }
		case types.BoolKind:
			l, r := c.bool(args[0]), c.bool(args[1])
			if l == nil || r == nil {
				return nil
			}
			return func() bool { return (l() == r()) != ne }
		}
	case operators.Conditional:
		if len(args) != 3 {
			return nil
		}
		cond, l, r := c.bool(args[0]), c.bool(args[1]), c.bool(args[2])
		if cond == nil || l == nil || r == nil {
			return nil
		}
		return func() bool {
			if cond() {
				return l()
			}
			return r()
		}
	}
	return nil
}
