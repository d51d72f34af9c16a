package detect

import (
	"fmt"
	"reflect"
	"sort"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/vigilsec/vigil/internal/event"
)

// This file gives CEL a typed, allocation-light view of *event.Event.
//
// cel-go's own routes to Go structs are maps (a map per event, converted
// value by value) or ext.NativeTypes (reflection on every field access, and
// uint32 fields typed as CEL uint, so `proc.uid == 0` would not type-check).
// Both are too slow for the agent's event rate, so each event type is
// declared here as a CEL object type whose fields are read by a hand-written
// getter. The checker then resolves `proc.exe` to a direct call of that
// getter, and misspelt fields are compile errors.

// fieldDef is one field of an object type.
type fieldDef[T any] struct {
	name string
	typ  *types.Type
	get  func(*T) ref.Val
	set  func(*T) bool
	// str, num and flag read a string, int or bool field unboxed, for
	// native programs (native.go); nil for other types.
	str  func(*T) string
	num  func(*T) int64
	flag func(*T) bool
}

func strField[T any](name string, f func(*T) string) fieldDef[T] {
	return fieldDef[T]{name: name, typ: types.StringType,
		get: func(p *T) ref.Val { return types.String(f(p)) },
		set: func(p *T) bool { return f(p) != "" },
		str: f}
}

func intField[T any, N int | int64 | uint32 | uint64](name string, f func(*T) N) fieldDef[T] {
	return fieldDef[T]{name: name, typ: types.IntType,
		get: func(p *T) ref.Val { return types.Int(f(p)) },
		set: func(p *T) bool { return f(p) != 0 },
		num: func(p *T) int64 { return int64(f(p)) }}
}

func boolField[T any](name string, f func(*T) bool) fieldDef[T] {
	return fieldDef[T]{name: name, typ: types.BoolType,
		get:  func(p *T) ref.Val { return types.Bool(f(p)) },
		set:  func(p *T) bool { return f(p) },
		flag: f}
}

func strListField[T any](name string, f func(*T) []string) fieldDef[T] {
	return fieldDef[T]{name: name, typ: types.NewListType(types.StringType),
		get: func(p *T) ref.Val { return newBoxedList(f(p)) },
		set: func(p *T) bool { return len(f(p)) > 0 }}
}

// newBoxedList makes a CEL list(string) whose elements are boxed once:
// cel-go's string list boxes every element again on every comprehension
// (`proc.args.exists(…)`), once per rule.
func newBoxedList(elems []string) traits.Lister {
	if len(elems) == 0 {
		return emptyList
	}
	boxed := make([]ref.Val, len(elems))
	for i, e := range elems {
		boxed[i] = types.String(e)
	}
	return types.NewRefValList(types.DefaultTypeAdapter, boxed)
}

var emptyList = types.NewRefValList(types.DefaultTypeAdapter, []ref.Val{})

// objectType is a CEL object type backed by *T.
type objectType struct {
	name   string
	typ    *types.Type
	names  []string
	goType reflect.Type // *T
	// get and has read a field of a *T (any other value reads as the zero
	// T), by name.
	get  map[string]func(any) ref.Val
	has  map[string]func(any) bool
	typs map[string]*types.Type
	// strs, nums and flags read string, int and bool fields unboxed.
	strs  map[string]func(any) string
	nums  map[string]func(any) int64
	flags map[string]func(any) bool
	// fields are the uncached field types, for tests and the checker.
	fields map[string]*types.FieldType
}

func (ot *objectType) fieldType(name string) *types.Type { return ot.typs[name] }

func newObjectType[T any](name string, defs ...fieldDef[T]) *objectType {
	ot := &objectType{
		name:   name,
		typ:    types.NewObjectType(name),
		goType: reflect.TypeFor[*T](),
		get:    map[string]func(any) ref.Val{},
		has:    map[string]func(any) bool{},
		typs:   map[string]*types.Type{},
		strs:   map[string]func(any) string{},
		nums:   map[string]func(any) int64{},
		flags:  map[string]func(any) bool{},
	}
	for _, d := range defs {
		d := d
		ot.names = append(ot.names, d.name)
		ot.typs[d.name] = d.typ
		ot.get[d.name] = func(v any) ref.Val {
			p, ok := v.(*T)
			if !ok || p == nil {
				var zero T
				p = &zero
			}
			return d.get(p)
		}
		ot.has[d.name] = func(v any) bool {
			p, ok := v.(*T)
			return ok && p != nil && d.set(p)
		}
		deref := func(v any) *T {
			p, ok := v.(*T)
			if !ok || p == nil {
				var zero T
				p = &zero
			}
			return p
		}
		switch {
		case d.str != nil:
			ot.strs[d.name] = func(v any) string { return d.str(deref(v)) }
		case d.num != nil:
			ot.nums[d.name] = func(v any) int64 { return d.num(deref(v)) }
		case d.flag != nil:
			ot.flags[d.name] = func(v any) bool { return d.flag(deref(v)) }
		}
	}
	sort.Strings(ot.names)
	ot.fields = ot.fieldTypes(nil)
	return ot
}

// fieldTypes makes the checker's and interpreter's view of the fields.
// With gen set, each field remembers the value it last read, for the same
// object in the same generation: the engine bumps *gen per event, so the
// many rules reading proc.exe of one event box it once.
func (ot *objectType) fieldTypes(gen *uint64) map[string]*types.FieldType {
	out := make(map[string]*types.FieldType, len(ot.names))
	for _, name := range ot.names {
		get, has := ot.get[name], ot.has[name]
		ft := &types.FieldType{
			IsSet: func(target any) bool { return has(unwrap(target)) },
		}
		if gen == nil {
			ft.GetFrom = func(target any) (any, error) { return get(unwrap(target)), nil }
		} else {
			c := &fieldCache{}
			ft.GetFrom = func(target any) (any, error) {
				target = unwrap(target)
				if c.gen == *gen && c.target == target && c.val != nil {
					return c.val, nil
				}
				v := get(target)
				c.gen, c.target, c.val = *gen, target, v
				return v, nil
			}
		}
		out[name] = ft
	}
	for name, ft := range out {
		ft.Type = ot.fieldType(name)
	}
	return out
}

// fieldCache is one field's last read value.
type fieldCache struct {
	gen    uint64
	target any
	val    ref.Val
}

func unwrap(v any) any {
	if o, ok := v.(*object); ok {
		return o.ptr
	}
	return v
}

// object is a CEL value of an objectType.
type object struct {
	ot  *objectType
	ptr any // *T
}

var _ traits.Indexer = (*object)(nil)

func (o *object) ConvertToNative(t reflect.Type) (any, error) {
	switch {
	case reflect.TypeOf(o.ptr).AssignableTo(t):
		return o.ptr, nil
	case t == o.ot.goType.Elem():
		return reflect.ValueOf(o.ptr).Elem().Interface(), nil
	case t.Kind() == reflect.Interface && reflect.TypeOf(o.ptr).Implements(t):
		return o.ptr, nil
	}
	return nil, fmt.Errorf("%s cannot be converted to %v", o.ot.name, t)
}

func (o *object) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return o.ot.typ
	}
	if t.TypeName() == o.ot.name {
		return o
	}
	return types.NewErr("type conversion error from %s to %s", o.ot.name, t.TypeName())
}

func (o *object) Equal(other ref.Val) ref.Val {
	oo, ok := other.(*object)
	if !ok || oo.ot != o.ot {
		return types.False
	}
	return types.Bool(reflect.DeepEqual(o.ptr, oo.ptr))
}

func (o *object) Type() ref.Type { return o.ot.typ }
func (o *object) Value() any     { return o.ptr }

func (o *object) Get(index ref.Val) ref.Val {
	name, ok := index.(types.String)
	if !ok {
		return types.ValOrErr(index, "no such overload")
	}
	g, ok := o.ot.get[string(name)]
	if !ok {
		return types.NewErr("no such field: %s", name)
	}
	return g(o.ptr)
}

func (o *object) IsSet(field ref.Val) ref.Val {
	name, ok := field.(types.String)
	if !ok {
		return types.ValOrErr(field, "no such overload")
	}
	h, ok := o.ot.has[string(name)]
	if !ok {
		return types.NewErr("no such field: %s", name)
	}
	return types.Bool(h(o.ptr))
}

var (
	ancestorType = newObjectType("vigil.Ancestor",
		intField("pid", func(a *event.Ancestor) int { return a.PID }),
		strField("exec_id", func(a *event.Ancestor) string { return a.ExecID }),
		strField("exe", func(a *event.Ancestor) string { return a.Exe }),
		strField("name", func(a *event.Ancestor) string { return a.Name }),
		strField("cmdline", func(a *event.Ancestor) string { return a.Cmdline }),
		strField("user", func(a *event.Ancestor) string { return a.User }),
		intField("uid", func(a *event.Ancestor) uint32 { return a.UID }),
	)

	processType = newObjectType("vigil.Process",
		intField("pid", func(p *event.Process) int { return p.PID }),
		intField("tid", func(p *event.Process) int { return p.TID }),
		intField("ppid", func(p *event.Process) int { return p.PPID }),
		strField("exec_id", func(p *event.Process) string { return p.ExecID }),
		strField("parent_exec_id", func(p *event.Process) string { return p.ParentExecID }),
		strField("exe", func(p *event.Process) string { return p.Exe }),
		strField("name", func(p *event.Process) string { return p.Name }),
		strListField("args", func(p *event.Process) []string { return p.Args }),
		strField("cmdline", func(p *event.Process) string { return p.Cmdline }),
		boolField("args_truncated", func(p *event.Process) bool { return p.ArgsTruncated }),
		strField("cwd", func(p *event.Process) string { return p.CWD }),
		strField("tty", func(p *event.Process) string { return p.TTY }),
		intField("uid", func(p *event.Process) uint32 { return p.UID }),
		intField("euid", func(p *event.Process) uint32 { return p.EUID }),
		intField("gid", func(p *event.Process) uint32 { return p.GID }),
		intField("egid", func(p *event.Process) uint32 { return p.EGID }),
		intField("auid", func(p *event.Process) uint32 { return p.AUID }),
		strField("user", func(p *event.Process) string { return p.User }),
		strField("euser", func(p *event.Process) string { return p.EUser }),
		intField("cgroup_id", func(p *event.Process) uint64 { return p.CgroupID }),
		strField("container_id", func(p *event.Process) string { return p.ContainerID }),
		intField("start_time", func(p *event.Process) uint64 { return p.StartTime }),
		strField("exe_hash", func(p *event.Process) string { return p.ExeHash }),
		boolField("exe_deleted", func(p *event.Process) bool { return p.ExeDeleted }),
		boolField("exe_memfd", func(p *event.Process) bool { return p.ExeMemfd }),
		intField("exe_dev", func(p *event.Process) uint64 { return p.ExeDev }),
		intField("exe_inode", func(p *event.Process) uint64 { return p.ExeInode }),
		intField("exe_ctime", func(p *event.Process) int64 { return p.ExeCtime }),
		strField("stdin", func(p *event.Process) string { return p.Stdin }),
		strField("stdout", func(p *event.Process) string { return p.Stdout }),
		strField("stderr", func(p *event.Process) string { return p.Stderr }),
		intField("pid_ns", func(p *event.Process) uint32 { return p.PIDNS }),
		intField("mnt_ns", func(p *event.Process) uint32 { return p.MntNS }),
		intField("net_ns", func(p *event.Process) uint32 { return p.NetNS }),
		boolField("host_pid_ns", func(p *event.Process) bool { return p.HostPID }),
		boolField("host_net_ns", func(p *event.Process) bool { return p.HostNet }),
		boolField("host_mnt_ns", func(p *event.Process) bool { return p.HostMnt }),
		intField("cap_eff", func(p *event.Process) uint64 { return p.CapEff }),
		fieldDef[event.Process]{name: "ancestors", typ: types.NewListType(ancestorType.typ),
			get: func(p *event.Process) ref.Val { return &ancestorList{list: p.Ancestors} },
			set: func(p *event.Process) bool { return len(p.Ancestors) > 0 }},
		intField("exit_code", func(p *event.Process) int { return p.ExitCode }),
	)

	containerType = newObjectType("vigil.Container",
		strField("id", func(c *event.Container) string { return c.ID }),
		strField("name", func(c *event.Container) string { return c.Name }),
		strField("image", func(c *event.Container) string { return c.Image }),
		strField("runtime", func(c *event.Container) string { return c.Runtime }),
		boolField("privileged", func(c *event.Container) bool { return c.Privileged }),
		boolField("host_pid", func(c *event.Container) bool { return c.HostPID }),
		boolField("host_network", func(c *event.Container) bool { return c.HostNet }),
		boolField("host_ipc", func(c *event.Container) bool { return c.HostIPC }),
		strListField("cap_add", func(c *event.Container) []string { return c.CapAdd }),
		strListField("mounts", func(c *event.Container) []string { return c.Mounts }),
	)

	fileType = newObjectType("vigil.File",
		strField("op", func(f *event.FileInfo) string { return string(f.Op) }),
		strField("path", func(f *event.FileInfo) string { return f.Path }),
		strField("new_path", func(f *event.FileInfo) string { return f.NewPath }),
		intField("mode", func(f *event.FileInfo) uint32 { return f.Mode }),
		intField("uid", func(f *event.FileInfo) uint32 { return f.UID }),
		intField("gid", func(f *event.FileInfo) uint32 { return f.GID }),
		intField("flags", func(f *event.FileInfo) uint32 { return f.Flags }),
		intField("dev", func(f *event.FileInfo) uint64 { return f.Dev }),
		intField("inode", func(f *event.FileInfo) uint64 { return f.Inode }),
	)

	netType = newObjectType("vigil.Network",
		strField("family", func(n *event.Network) string { return n.Family }),
		strField("protocol", func(n *event.Network) string { return n.Protocol }),
		strField("src_ip", func(n *event.Network) string { return n.SrcIP }),
		intField("src_port", func(n *event.Network) int { return n.SrcPort }),
		strField("dst_ip", func(n *event.Network) string { return n.DstIP }),
		intField("dst_port", func(n *event.Network) int { return n.DstPort }),
		boolField("internal", func(n *event.Network) bool { return n.Internal }),
		boolField("loopback", func(n *event.Network) bool { return n.Loopback }),
		strField("old_state", func(n *event.Network) string { return n.OldState }),
		strField("new_state", func(n *event.Network) string { return n.NewState }),
		strField("result", func(n *event.Network) string { return n.Result }),
	)

	credType = newObjectType("vigil.Cred",
		strField("syscall", func(c *event.CredInfo) string { return c.Syscall }),
		intField("old_uid", func(c *event.CredInfo) uint32 { return c.OldUID }),
		intField("new_uid", func(c *event.CredInfo) uint32 { return c.NewUID }),
		intField("old_euid", func(c *event.CredInfo) uint32 { return c.OldEUID }),
		intField("new_euid", func(c *event.CredInfo) uint32 { return c.NewEUID }),
		intField("old_gid", func(c *event.CredInfo) uint32 { return c.OldGID }),
		intField("new_gid", func(c *event.CredInfo) uint32 { return c.NewGID }),
		intField("old_egid", func(c *event.CredInfo) uint32 { return c.OldEGID }),
		intField("new_egid", func(c *event.CredInfo) uint32 { return c.NewEGID }),
		intField("old_fsuid", func(c *event.CredInfo) uint32 { return c.OldFSUID }),
		intField("new_fsuid", func(c *event.CredInfo) uint32 { return c.NewFSUID }),
		intField("old_fsgid", func(c *event.CredInfo) uint32 { return c.OldFSGID }),
		intField("new_fsgid", func(c *event.CredInfo) uint32 { return c.NewFSGID }),
		intField("old_cap_eff", func(c *event.CredInfo) uint64 { return c.OldCapEff }),
		intField("new_cap_eff", func(c *event.CredInfo) uint64 { return c.NewCapEff }),
	)

	ptraceType = newObjectType("vigil.Ptrace",
		strField("request", func(p *event.PtraceOp) string { return p.Request }),
	)

	moduleType = newObjectType("vigil.Module",
		strField("name", func(m *event.ModInfo) string { return m.Name }),
		strField("syscall", func(m *event.ModInfo) string { return m.Syscall }),
		strField("path", func(m *event.ModInfo) string { return m.Path }),
	)

	memfdType = newObjectType("vigil.Memfd",
		strField("name", func(m *event.MemfdInfo) string { return m.Name }),
		intField("flags", func(m *event.MemfdInfo) uint32 { return m.Flags }),
	)

	authType = newObjectType("vigil.Auth",
		strField("service", func(a *event.AuthInfo) string { return a.Service }),
		strField("outcome", func(a *event.AuthInfo) string { return a.Outcome }),
		strField("method", func(a *event.AuthInfo) string { return a.Method }),
		strField("user", func(a *event.AuthInfo) string { return a.User }),
		strField("src_ip", func(a *event.AuthInfo) string { return a.SrcIP }),
		intField("src_port", func(a *event.AuthInfo) int { return a.SrcPort }),
		boolField("invalid_user", func(a *event.AuthInfo) bool { return a.Invalid }),
		strField("message", func(a *event.AuthInfo) string { return a.Message }),
		strField("detail", func(a *event.AuthInfo) string { return a.Detail }),
		intField("count", func(a *event.AuthInfo) int { return max(a.Count, 1) }),
		strField("tty", func(a *event.AuthInfo) string { return a.TTY }),
		strField("by_user", func(a *event.AuthInfo) string { return a.ByUser }),
	)

	objectTypes = []*objectType{ancestorType, processType, containerType, fileType, netType, credType,
		ptraceType, moduleType, memfdType, authType}
)

// ancestorList is proc.ancestors as a CEL list of vigil.Ancestor.
type ancestorList struct {
	list []event.Ancestor
}

func (l *ancestorList) elem(i int) ref.Val { return &object{ot: ancestorType, ptr: &l.list[i]} }

func (l *ancestorList) ConvertToNative(t reflect.Type) (any, error) {
	if reflect.TypeOf(l.list).AssignableTo(t) {
		return l.list, nil
	}
	if t.Kind() == reflect.Interface {
		return l.list, nil
	}
	return nil, fmt.Errorf("ancestors cannot be converted to %v", t)
}
func (l *ancestorList) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.ListType:
		return l
	case types.TypeType:
		return types.ListType
	}
	return types.NewErr("type conversion error from list to %s", t.TypeName())
}
func (l *ancestorList) Equal(other ref.Val) ref.Val {
	o, ok := other.(*ancestorList)
	return types.Bool(ok && reflect.DeepEqual(l.list, o.list))
}
func (l *ancestorList) Type() ref.Type { return types.ListType }
func (l *ancestorList) Value() any     { return l.list }
func (l *ancestorList) Add(other ref.Val) ref.Val {
	return types.NewErr("no such overload: ancestors + list")
}
func (l *ancestorList) Contains(v ref.Val) ref.Val {
	for i := range l.list {
		if l.elem(i).Equal(v) == types.True {
			return types.True
		}
	}
	return types.False
}
func (l *ancestorList) Get(index ref.Val) ref.Val {
	i, ok := index.(types.Int)
	if !ok {
		return types.ValOrErr(index, "no such overload")
	}
	if i < 0 || int(i) >= len(l.list) {
		return types.NewErr("index out of range: %d", i)
	}
	return l.elem(int(i))
}
func (l *ancestorList) Size() ref.Val { return types.Int(len(l.list)) }
func (l *ancestorList) Iterator() traits.Iterator {
	return &ancestorIter{l: l}
}

type ancestorIter struct {
	l *ancestorList
	i int
}

func (it *ancestorIter) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("iterator cannot be converted")
}
func (it *ancestorIter) ConvertToType(ref.Type) ref.Val { return types.NewErr("iterator") }
func (it *ancestorIter) Equal(ref.Val) ref.Val          { return types.False }
func (it *ancestorIter) Type() ref.Type                 { return types.IteratorType }
func (it *ancestorIter) Value() any                     { return nil }
func (it *ancestorIter) HasNext() ref.Val               { return types.Bool(it.i < len(it.l.list)) }
func (it *ancestorIter) Next() ref.Val {
	if it.i >= len(it.l.list) {
		return nil
	}
	it.i++
	return it.l.elem(it.i - 1)
}

// stringSet is a named list (lists.NAME): a CEL list(string) whose `in`
// is a map lookup.
type stringSet struct {
	traits.Lister
	elems []string
	set   map[string]struct{}
}

func newStringSet(elems []string) *stringSet {
	s := &stringSet{Lister: newBoxedList(elems), elems: elems, set: map[string]struct{}{}}
	for _, e := range elems {
		s.set[e] = struct{}{}
	}
	return s
}

func (s *stringSet) Contains(v ref.Val) ref.Val {
	if str, ok := v.(types.String); ok {
		_, found := s.set[string(str)]
		return types.Bool(found)
	}
	return s.Lister.Contains(v)
}

// listsValue is the value of the `lists` variable.
type listsValue struct {
	sets map[string]*stringSet
}

// provider declares the object types to the checker and wraps event
// values for the interpreter. Everything else goes to the base registry.
type provider struct {
	base    types.Provider
	adapter types.Adapter
	objects map[string]*objectType
	fields  map[string]map[string]*types.FieldType // per type, with caches
}

func newProvider(base types.Provider, adapter types.Adapter, lists map[string][]string, gen *uint64) *provider {
	p := &provider{base: base, adapter: adapter, objects: map[string]*objectType{}, fields: map[string]map[string]*types.FieldType{}}
	for _, ot := range objectTypes {
		p.objects[ot.name] = ot
	}
	var defs []fieldDef[listsValue]
	for name := range lists {
		name := name
		defs = append(defs, fieldDef[listsValue]{name: name, typ: types.NewListType(types.StringType),
			get: func(l *listsValue) ref.Val {
				if s, ok := l.sets[name]; ok {
					return s
				}
				return emptyList
			},
			set: func(l *listsValue) bool { return len(l.sets[name].elems) > 0 }})
	}
	lt := newObjectType("vigil.Lists", defs...)
	p.objects[lt.name] = lt
	for name, ot := range p.objects {
		p.fields[name] = ot.fieldTypes(gen)
	}
	return p
}

func (p *provider) EnumValue(name string) ref.Val { return p.base.EnumValue(name) }
func (p *provider) FindIdent(name string) (ref.Val, bool) {
	return p.base.FindIdent(name)
}
func (p *provider) FindStructType(name string) (*types.Type, bool) {
	if ot, ok := p.objects[name]; ok {
		return types.NewTypeTypeWithParam(ot.typ), true
	}
	return p.base.FindStructType(name)
}
func (p *provider) FindStructFieldNames(name string) ([]string, bool) {
	if ot, ok := p.objects[name]; ok {
		return ot.names, true
	}
	return p.base.FindStructFieldNames(name)
}
func (p *provider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if fields, ok := p.fields[name]; ok {
		ft, found := fields[field]
		return ft, found
	}
	return p.base.FindStructFieldType(name, field)
}
func (p *provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := p.objects[name]; ok {
		return types.NewErr("%s values cannot be constructed in a rule", name)
	}
	return p.base.NewValue(name, fields)
}

// NativeToValue wraps event values as objects; the rest goes to the base
// adapter.
func (p *provider) NativeToValue(v any) ref.Val {
	switch x := v.(type) {
	case *event.Process:
		return &object{ot: processType, ptr: x}
	case *event.Ancestor:
		return &object{ot: ancestorType, ptr: x}
	case []event.Ancestor:
		return &ancestorList{list: x}
	case *event.Container:
		return &object{ot: containerType, ptr: x}
	case *event.FileInfo:
		return &object{ot: fileType, ptr: x}
	case *event.Network:
		return &object{ot: netType, ptr: x}
	case *event.CredInfo:
		return &object{ot: credType, ptr: x}
	case *event.PtraceOp:
		return &object{ot: ptraceType, ptr: x}
	case *event.ModInfo:
		return &object{ot: moduleType, ptr: x}
	case *event.MemfdInfo:
		return &object{ot: memfdType, ptr: x}
	case *event.AuthInfo:
		return &object{ot: authType, ptr: x}
	case *listsValue:
		return &object{ot: p.objects["vigil.Lists"], ptr: x}
	}
	return p.adapter.NativeToValue(v)
}
