package detect

import (
	"math/rand/v2"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/vigilsec/vigil/internal/event"
)

// nativeBench compiles expressions natively and with cel-go alone, on one
// engine, so their results can be compared on the same events.
type nativeBench struct {
	e   *Engine
	env *cel.Env
}

func newNativeBench(t testing.TB) *nativeBench {
	t.Helper()
	e, err := New(&RuleSet{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	env, err := newEnv(nil, nil, e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &nativeBench{e: e, env: env}
}

// compile returns the engine's program for expr and cel-go's own.
func (nb *nativeBench) compile(expr string) (engine, plain cel.Program, err error) {
	if engine, err = compileExpr(nb.env, expr, nil, nil, nb.e.fields); err != nil {
		return nil, nil, err
	}
	plain, err = compileExpr(nb.env, expr, nil, nil, nil)
	return engine, plain, err
}

// same evaluates both programs on ev and reports a difference.
func (nb *nativeBench) same(t testing.TB, expr string, engine, plain cel.Program, ev *event.Event) {
	t.Helper()
	nb.e.act.set(ev)
	nb.e.ctx.ev = ev
	nb.e.ctx.gen++
	defer func() { nb.e.act.set(nil); nb.e.ctx.ev = nil }()
	v1, _, err1 := engine.Eval(&nb.e.act)
	v2, _, err2 := plain.Eval(&nb.e.act)
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("%s on %+v: errors differ: engine %v, cel-go %v", expr, ev.Auth, err1, err2)
	}
	if err1 != nil {
		return
	}
	if v1.Type() != v2.Type() || v1.Equal(v2) != types.True {
		t.Fatalf("%s on %+v: engine %v (%s), cel-go %v (%s)", expr, ev.Auth, v1, v1.Type(), v2, v2.Type())
	}
}

var nativeEvents = []*event.Event{
	{Kind: event.Auth, Process: event.Process{PID: 7, Exe: "/usr/sbin/sshd"}, Auth: &event.AuthInfo{Service: "sshd", Outcome: "failure",
		User: "root", SrcIP: "203.0.113.9", SrcPort: 2222, Invalid: true, Count: 3}},
	{Kind: event.Auth, Auth: &event.AuthInfo{Service: "su", Outcome: "failure", User: "root", ByUser: "www-data", TTY: "pts/1"}},
	{Kind: event.Auth, Auth: &event.AuthInfo{Service: "sudo", Outcome: "success", TTY: "pts/2", Count: 300}},
	{Kind: event.Exec, Process: event.Process{PID: 1, Exe: "/bin/sh"}},
}

// TestNativePrograms checks that the shipped auth rules' expressions and
// other simple ones are compiled natively, that others are left to
// cel-go, and that both give the same results.
func TestNativePrograms(t *testing.T) {
	nb := newNativeBench(t)
	for _, c := range []struct {
		expr   string
		native bool
	}{
		{`auth.outcome == "failure" && auth.src_ip != ""`, true},
		{`auth.invalid_user && auth.src_ip != "" && auth.user != ""`, true},
		{`auth.outcome == "failure" && !auth.invalid_user && auth.src_ip != "" && auth.user != ""`, true},
		{`auth.src_ip != "" && (auth.outcome == "failure" || auth.outcome == "success")`, true},
		{`(auth.service == "su" || auth.service == "sudo") && auth.outcome == "failure"`, true},
		{`auth.service + '|' + (auth.by_user != '' ? auth.by_user : auth.tty)`, true},
		{`auth.src_ip`, true},
		{`auth.count`, true},
		{`auth.count == 3 ? auth.src_port : 1000`, true},
		{`auth.invalid_user == (auth.src_port != 22)`, true},
		{`proc.pid == 7 || proc.exe == "/bin/sh"`, true},
		{`true && auth.count != 1`, true},
		{`kind == "auth"`, false},
		{`auth.user.startsWith("r")`, false},
		{`has(auth.user)`, false},
		{`auth.user in ["root", "admin"]`, false},
		{`auth.count > 2`, false},
		{`proc.args.exists(a, a == "x")`, false},
		{`auth`, false},
	} {
		engine, plain, err := nb.compile(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if _, native := engine.(*nativeProgram); native != c.native {
			t.Errorf("%s: native %v, want %v", c.expr, native, c.native)
		}
		for _, ev := range nativeEvents {
			nb.same(t, c.expr, engine, plain, ev)
		}
	}
}

// FuzzNative compiles arbitrary expressions both ways and compares them
// on a few events: a native program must never differ from cel-go.
func FuzzNative(f *testing.F) {
	for _, s := range []string{
		`auth.outcome == "failure" && auth.src_ip != ""`,
		`auth.service + '|' + (auth.by_user != '' ? auth.by_user : auth.tty)`,
		`!(auth.count == 1) || proc.pid != 0 && auth.invalid_user`,
		`auth.count == 3 ? auth.src_port : -1`,
		`auth.user + "x" == "rootx"`,
	} {
		f.Add(s)
	}
	nb := newNativeBench(f)
	f.Fuzz(func(t *testing.T, expr string) {
		if len(expr) > 200 {
			return
		}
		engine, plain, err := nb.compile(expr)
		if err != nil {
			return
		}
		for _, ev := range nativeEvents {
			nb.same(t, expr, engine, plain, ev)
		}
	})
}

// TestNativeRandom builds random expressions over auth and proc fields
// from the grammar native programs cover (and a little beyond it), and
// checks each gives cel-go's result on every test event.
func TestNativeRandom(t *testing.T) {
	nb := newNativeBench(t)
	rng := rand.New(rand.NewPCG(5, 27))
	strs := []string{`auth.service`, `auth.outcome`, `auth.user`, `auth.src_ip`, `auth.tty`, `auth.by_user`, `proc.exe`,
		`""`, `"root"`, `"su"`, `"failure"`, `'|'`}
	ints := []string{`auth.count`, `auth.src_port`, `proc.pid`, `0`, `1`, `3`, `2222`, `-1`}
	bools := []string{`auth.invalid_user`, `true`, `false`}
	var str, num, boolean func(d int) string
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	str = func(d int) string {
		if d <= 0 || rng.IntN(3) == 0 {
			return pick(strs)
		}
		switch rng.IntN(3) {
		case 0:
			return str(d-1) + " + " + str(d-1)
		case 1:
			return "(" + boolean(d-1) + " ? " + str(d-1) + " : " + str(d-1) + ")"
		}
		return "(" + str(d-1) + ")"
	}
	num = func(d int) string {
		if d <= 0 || rng.IntN(2) == 0 {
			return pick(ints)
		}
		return "(" + boolean(d-1) + " ? " + num(d-1) + " : " + num(d-1) + ")"
	}
	boolean = func(d int) string {
		if d <= 0 || rng.IntN(4) == 0 {
			return pick(bools)
		}
		switch rng.IntN(9) {
		case 0:
			return boolean(d-1) + " && " + boolean(d-1)
		case 1:
			return "(" + boolean(d-1) + " || " + boolean(d-1) + ")"
		case 2:
			return "!(" + boolean(d-1) + ")"
		case 3:
			return str(d-1) + " == " + str(d-1)
		case 4:
			return str(d-1) + " != " + str(d-1)
		case 5:
			return num(d-1) + " == " + num(d-1)
		case 6:
			return "(" + boolean(d-1) + ") != (" + boolean(d-1) + ")"
		case 7:
			return num(d-1) + " > " + num(d-1) // not native
		}
		return "(" + boolean(d-1) + " ? " + boolean(d-1) + " : " + boolean(d-1) + ")"
	}
	native := 0
	for i := 0; i < 1500; i++ {
		var expr string
		switch i % 3 {
		case 0:
			expr = boolean(4)
		case 1:
			expr = str(4)
		default:
			expr = num(3)
		}
		engine, plain, err := nb.compile(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if _, ok := engine.(*nativeProgram); ok {
			native++
		}
		for _, ev := range nativeEvents {
			nb.same(t, expr, engine, plain, ev)
		}
	}
	if native < 500 {
		t.Errorf("only %d of 1500 expressions ran natively", native)
	}
}
