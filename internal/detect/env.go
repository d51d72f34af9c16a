package detect

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/decls"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"

	"github.com/vigilsec/vigil/internal/event"
)

// evalContext is what the functions that look beyond their arguments
// (any_ancestor_exe_in) see: the event being judged. One per Engine.
type evalContext struct {
	ev *event.Event
	// gen changes with every event, invalidating cached field values.
	gen uint64
	// basename and dirname remember their last result: many rules ask
	// for basename(proc.exe) of the same event.
	basename, dirname memo
}

// noGuards drops cel-go's runtime argument type checks, which iterate
// list arguments on every call; the checker has typed the arguments and
// the bindings check what they assert.
var noGuards = decls.DisableTypeGuards(true)

// memo is a string function that remembers its last few calls.
type memo struct {
	fn   func(string) string
	in   [4]string
	out  [4]ref.Val
	next int
}

func (m *memo) call(v ref.Val) ref.Val {
	s, ok := v.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(v)
	}
	for i := range m.in {
		if m.out[i] != nil && m.in[i] == string(s) {
			return m.out[i]
		}
	}
	i := m.next
	m.next = (m.next + 1) % len(m.in)
	m.in[i], m.out[i] = string(s), types.String(m.fn(string(s)))
	return m.out[i]
}

// newEnv builds the CEL environment every rule of an engine is compiled in.
func newEnv(lists map[string][]string, iocs map[string]*iocSet, ctx *evalContext) (*cel.Env, error) {
	base, err := cel.NewEnv()
	if err != nil {
		return nil, fmt.Errorf("cel base environment: %w", err)
	}
	prov := newProvider(base.CELTypeProvider(), base.CELTypeAdapter(), lists, &ctx.gen)
	obj := func(ot *objectType) *cel.Type { return ot.typ }
	strList := cel.ListType(cel.StringType)
	// Each named list is also a constant "lists.NAME", which the checker
	// prefers to selecting a field of `lists`: the planner then sees a
	// constant list, so `x in lists.NAME` becomes a set lookup and the
	// functions get the list without evaluating anything. The `lists`
	// variable stays for the checker's message on an unknown name.
	var consts []cel.EnvOption
	for name, l := range lists {
		consts = append(consts, cel.Constant("lists."+name, strList, newStringSet(l)))
	}
	env, err := cel.NewEnv(
		cel.CustomTypeProvider(prov),
		cel.CustomTypeAdapter(prov),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
		cel.Variable("kind", cel.StringType),
		cel.Variable("time", cel.TimestampType),
		cel.Variable("host", cel.StringType),
		cel.Variable("source", cel.StringType),
		cel.Variable("blocked", cel.BoolType),
		cel.Variable("proc", obj(processType)),
		cel.Variable("parent", obj(processType)),
		cel.Variable("target", obj(processType)),
		cel.Variable("container", obj(containerType)),
		cel.Variable("file", obj(fileType)),
		cel.Variable("net", obj(netType)),
		cel.Variable("cred", obj(credType)),
		cel.Variable("ptrace", obj(ptraceType)),
		cel.Variable("module", obj(moduleType)),
		cel.Variable("memfd", obj(memfdType)),
		cel.Variable("auth", obj(authType)),
		cel.Variable("lists", cel.ObjectType("vigil.Lists")),

		cel.Function("basename", noGuards, cel.Overload("basename_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(ctx.basename.call))),
		cel.Function("dirname", noGuards, cel.Overload("dirname_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(ctx.dirname.call))),
		cel.Function("path_under", noGuards, cel.Overload("path_under_string_list", []*cel.Type{cel.StringType, strList}, cel.BoolType,
			cel.BinaryBinding(func(p, dirs ref.Val) ref.Val {
				s, ok := p.(types.String)
				if !ok {
					return types.MaybeNoSuchOverloadErr(p)
				}
				found := false
				err := eachString(dirs, func(d string) bool {
					found = pathUnder(string(s), d)
					return !found
				})
				if err != nil {
					return types.WrapErr(err)
				}
				return types.Bool(found)
			}))),
		cel.Function("in_cidr", noGuards, cel.Overload("in_cidr_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
			cel.BinaryBinding(func(ip, cidr ref.Val) ref.Val {
				i, ok1 := ip.(types.String)
				c, ok2 := cidr.(types.String)
				if !ok1 || !ok2 {
					return types.MaybeNoSuchOverloadErr(ip)
				}
				in, err := inCIDR(string(i), string(c))
				if err != nil {
					return types.WrapErr(err)
				}
				return types.Bool(in)
			}))),
		cel.Function("in_any_cidr", noGuards, cel.Overload("in_any_cidr_string_list", []*cel.Type{cel.StringType, strList}, cel.BoolType,
			cel.BinaryBinding(func(ip, cidrs ref.Val) ref.Val {
				s, ok := ip.(types.String)
				if !ok {
					return types.MaybeNoSuchOverloadErr(ip)
				}
				found := false
				var inErr error
				err := eachString(cidrs, func(c string) bool {
					found, inErr = inCIDR(string(s), c)
					return !found && inErr == nil
				})
				if err == nil {
					err = inErr
				}
				if err != nil {
					return types.WrapErr(err)
				}
				return types.Bool(found)
			}))),
		cel.Function("ioc", noGuards, cel.Overload("ioc_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
			cel.BinaryBinding(func(set, text ref.Val) ref.Val {
				name, ok1 := set.(types.String)
				t, ok2 := text.(types.String)
				if !ok1 || !ok2 {
					return types.MaybeNoSuchOverloadErr(set)
				}
				s, ok := iocs[string(name)]
				if !ok {
					return types.NewErr("ioc: unknown IOC set %q", name)
				}
				return types.Bool(s.match(string(t)))
			}))),
		cel.Function("any_ancestor_exe_in", noGuards, cel.Overload("any_ancestor_exe_in_list", []*cel.Type{strList}, cel.BoolType,
			cel.UnaryBinding(func(exes ref.Val) ref.Val {
				found, err := anyAncestorExeIn(ctx.ev, exes)
				if err != nil {
					return types.WrapErr(err)
				}
				return types.Bool(found)
			}))),
	)
	if err != nil {
		return nil, err
	}
	return env.Extend(consts...)
}

func basename(p string) string {
	if p == "" {
		return ""
	}
	return path.Base(p)
}

func dirname(p string) string {
	if p == "" {
		return ""
	}
	return path.Dir(p)
}

// pathUnder reports whether p is dir or below it, comparing whole path
// elements: "/etc/cron.dx" is not under "/etc/cron.d".
func pathUnder(p, dir string) bool {
	if dir == "" || p == "" {
		return false
	}
	dir = strings.TrimRight(dir, "/")
	if dir == "" { // "/" is above every absolute path
		return strings.HasPrefix(p, "/")
	}
	return p == dir || (strings.HasPrefix(p, dir) && p[len(dir)] == '/')
}

// inCIDR reports whether ip is in cidr. An ip that does not parse (empty,
// a host name) is in no network; a cidr that does not parse is an error,
// since it is the rule's mistake.
func inCIDR(ip, cidr string) (bool, error) {
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil {
		addr, aerr := netip.ParseAddr(cidr)
		if aerr != nil {
			return false, fmt.Errorf("in_cidr: bad network %q: %w", cidr, err)
		}
		pfx = netip.PrefixFrom(addr, addr.BitLen())
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false, nil
	}
	return pfx.Contains(addr.Unmap()) || pfx.Contains(addr), nil
}

// eachString calls fn for each string of a CEL list until fn returns false.
func eachString(list ref.Val, fn func(string) bool) error {
	if s, ok := list.(*stringSet); ok {
		for _, e := range s.elems {
			if !fn(e) {
				return nil
			}
		}
		return nil
	}
	l, ok := list.(traits.Lister)
	if !ok {
		return fmt.Errorf("want a list, got %s", list.Type().TypeName())
	}
	it := l.Iterator()
	for it.HasNext() == types.True {
		v := it.Next()
		s, ok := v.(types.String)
		if !ok {
			return fmt.Errorf("want a list of strings, got an element of type %s", v.Type().TypeName())
		}
		if !fn(string(s)) {
			return nil
		}
	}
	return nil
}

// anyAncestorExeIn reports whether the parent or any known ancestor of the
// event's process runs one of exes.
func anyAncestorExeIn(ev *event.Event, exes ref.Val) (bool, error) {
	if ev == nil {
		return false, nil
	}
	has := func(exe string) (bool, error) {
		if exe == "" {
			return false, nil
		}
		if s, ok := exes.(*stringSet); ok {
			_, found := s.set[exe]
			return found, nil
		}
		found := false
		err := eachString(exes, func(e string) bool { found = e == exe; return !found })
		return found, err
	}
	if ev.Parent != nil {
		if ok, err := has(ev.Parent.Exe); ok || err != nil {
			return ok, err
		}
	}
	for i := range ev.Process.Ancestors {
		if ok, err := has(ev.Process.Ancestors[i].Exe); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}
