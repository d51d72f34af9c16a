package detect

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/severity"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ruleYAML is a minimal valid rule; extra is appended to its mapping.
func ruleYAML(id, events, cond, extra string) string {
	return fmt.Sprintf(`
  - id: %s
    version: 1
    title: test rule
    description: a rule for the engine's tests
    severity: high
    attack: {tactics: [TA0002], techniques: [T1059.004]}
    events: [%s]
    condition: %q
%s`, id, events, cond, extra)
}

func mustEngine(t *testing.T, doc string, opts Options) *Engine {
	t.Helper()
	rs, err := LoadBytes("test.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	rs.IOC = map[string][]string{"pools": {"pool.example", "10.9.9.9", "1.2.3.4:3333", "http://185.141.25.35"}}
	e, err := New(rs, opts)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	return e
}

func execEvent(exe string, args ...string) *event.Event {
	return &event.Event{Kind: event.Exec, Time: t0, Host: "h1",
		Process: event.Process{PID: 100, ExecID: "b:1:100", Exe: exe, Args: args, Cmdline: strings.Join(args, " "), UID: 33, User: "www-data"}}
}

func TestConditions(t *testing.T) {
	lists := `
lists:
  shells: [/bin/sh, /usr/bin/bash]
  tmp: [/tmp, /dev/shm/]
  nets: [10.0.0.0/8, "fd00::/8"]
rules:`
	withAnc := func(ev *event.Event) *event.Event {
		ev.Parent = &event.Process{PID: 90, Exe: "/usr/sbin/nginx"}
		ev.Process.Ancestors = []event.Ancestor{{PID: 90, Exe: "/usr/sbin/nginx"}, {PID: 1, Exe: "/sbin/init", Name: "init"}}
		return ev
	}
	fileEv := func(path string) *event.Event {
		ev := execEvent("/usr/bin/touch", "touch", path)
		ev.Kind = event.File
		ev.File = &event.FileInfo{Op: event.OpCreate, Path: path}
		return ev
	}
	netEv := func(ip string) *event.Event {
		ev := execEvent("/usr/bin/curl", "curl")
		ev.Kind = event.Connect
		ev.Net = &event.Network{Family: "ipv4", Protocol: "tcp", DstIP: ip, DstPort: 443}
		return ev
	}
	tests := []struct {
		name string
		kind string
		cond string
		ev   *event.Event
		want bool
	}{
		{"basename", "exec", "basename(proc.exe) == 'bash'", execEvent("/usr/bin/bash"), true},
		{"basename_empty", "exec", "basename(proc.exe) == ''", execEvent(""), true},
		{"basename_trailing_slash", "exec", "basename('/a/b/') == 'b'", execEvent("/x"), true},
		{"dirname", "exec", "dirname(proc.exe) == '/usr/bin'", execEvent("/usr/bin/bash"), true},
		{"dirname_root", "exec", "dirname('/x') == '/'", execEvent("/x"), true},
		{"path_under_equal", "file", "path_under(file.path, ['/etc/cron.d'])", fileEv("/etc/cron.d"), true},
		{"path_under_below", "file", "path_under(file.path, ['/etc/cron.d'])", fileEv("/etc/cron.d/x"), true},
		{"path_under_prefix_confusion", "file", "path_under(file.path, ['/etc/cron.d'])", fileEv("/etc/cron.dx"), false},
		{"path_under_trailing_slash_list", "file", "path_under(file.path, lists.tmp)", fileEv("/dev/shm/a"), true},
		{"path_under_root", "file", "path_under(file.path, ['/'])", fileEv("/etc/passwd"), true},
		{"path_under_empty_path", "file", "path_under(file.path, ['/tmp'])", fileEv(""), false},
		{"in_cidr", "connect", "in_cidr(net.dst_ip, '10.0.0.0/8')", netEv("10.1.2.3"), true},
		{"in_cidr_outside", "connect", "in_cidr(net.dst_ip, '10.0.0.0/8')", netEv("11.1.2.3"), false},
		{"in_cidr_mapped_v4", "connect", "in_cidr(net.dst_ip, '10.0.0.0/8')", netEv("::ffff:10.1.2.3"), true},
		{"in_cidr_single_address", "connect", "in_cidr(net.dst_ip, '10.1.2.3')", netEv("10.1.2.3"), true},
		{"in_cidr_not_an_ip", "connect", "in_cidr(net.dst_ip, '10.0.0.0/8')", netEv("example.com"), false},
		{"in_any_cidr_list", "connect", "in_any_cidr(net.dst_ip, lists.nets)", netEv("fd00::1"), true},
		{"in_any_cidr_none", "connect", "in_any_cidr(net.dst_ip, lists.nets)", netEv("192.168.1.1"), false},
		{"ioc_domain_in_url", "exec", "ioc('pools', proc.cmdline)", execEvent("/x", "xmrig", "-o", "stratum+tcp://pool.example:4444"), true},
		{"ioc_subdomain", "exec", "ioc('pools', proc.cmdline)", execEvent("/x", "xmrig", "-o", "eu.pool.example"), true},
		{"ioc_not_a_token", "exec", "ioc('pools', proc.cmdline)", execEvent("/x", "xmrig", "-o", "evilpool.example"), false},
		{"ioc_longer_domain", "exec", "ioc('pools', proc.cmdline)", execEvent("/x", "curl", "pool.example.org"), false},
		{"ioc_ip", "connect", "ioc('pools', net.dst_ip)", netEv("10.9.9.9"), true},
		{"ioc_ip_not_suffix", "connect", "ioc('pools', net.dst_ip)", netEv("110.9.9.9"), false},
		{"ioc_ip_port_entry", "connect", "ioc('pools', net.dst_ip + ':' + string(net.dst_port))", netEv("1.2.3.4"), false},
		{"ioc_ip_port_match", "exec", "ioc('pools', proc.cmdline)", execEvent("/x", "miner", "1.2.3.4:3333"), true},
		{"ioc_ip_port_other_port", "exec", "ioc('pools', proc.cmdline)", execEvent("/x", "miner", "1.2.3.4:33334"), false},
		{"ioc_url_entry", "connect", "ioc('pools', net.dst_ip)", netEv("185.141.25.35"), true},
		{"ioc_case", "exec", "ioc('pools', proc.cmdline)", execEvent("/x", "POOL.Example"), true},
		{"ancestor_parent", "exec", "any_ancestor_exe_in(['/usr/sbin/nginx'])", withAnc(execEvent("/bin/sh")), true},
		{"ancestor_deep", "exec", "any_ancestor_exe_in(['/sbin/init'])", withAnc(execEvent("/bin/sh")), true},
		{"ancestor_none", "exec", "any_ancestor_exe_in(['/usr/sbin/sshd'])", withAnc(execEvent("/bin/sh")), false},
		{"ancestor_no_parent", "exec", "any_ancestor_exe_in(['/usr/sbin/sshd'])", execEvent("/bin/sh"), false},
		{"ancestors_macro", "exec", "proc.ancestors.exists(a, a.name == 'init' && a.pid == 1)", withAnc(execEvent("/bin/sh")), true},
		{"ancestors_size", "exec", "size(proc.ancestors) == 2", withAnc(execEvent("/bin/sh")), true},
		{"ancestors_index", "exec", "proc.ancestors[0].exe == '/usr/sbin/nginx'", withAnc(execEvent("/bin/sh")), true},
		{"list_in", "exec", "proc.exe in lists.shells", execEvent("/usr/bin/bash"), true},
		{"list_not_in", "exec", "proc.exe in lists.shells", execEvent("/usr/bin/zsh"), false},
		{"list_literal_in", "exec", "proc.exe in ['/a', '/usr/bin/bash']", execEvent("/usr/bin/bash"), true},
		{"args_exists", "exec", "proc.args.exists(a, a == '-e')", execEvent("/bin/nc", "nc", "-e", "/bin/sh"), true},
		{"args_size", "exec", "proc.args.size() == 3", execEvent("/bin/nc", "nc", "-e", "/bin/sh"), true},
		{"matches", "exec", "proc.cmdline.matches('^nc .*-e')", execEvent("/bin/nc", "nc", "-e", "/bin/sh"), true},
		{"ext_strings", "exec", "proc.exe.lowerAscii().split('/')[1] == 'usr'", execEvent("/USR/bin/x"), true},
		{"uid_int", "exec", "proc.uid == 33 && proc.euid == 0", execEvent("/x"), true},
		{"uid_compare", "exec", "proc.uid < 1000", execEvent("/x"), true},
		{"absent_file_is_empty", "exec", "file.path == '' && net.dst_port == 0 && parent.exe == '' && container.id == ''", execEvent("/x"), true},
		{"has_absent", "exec", "!has(file.path) && !has(parent.exe)", execEvent("/x"), true},
		{"has_present", "exec", "has(proc.exe) && has(proc.args)", execEvent("/x", "x"), true},
		{"kind_host_time", "exec", "kind == 'exec' && host == 'h1' && time == timestamp('2026-01-01T00:00:00Z')", execEvent("/x"), true},
		{"source_blocked", "exec", "source == 'ebpf' && blocked",
			func() *event.Event { ev := execEvent("/x"); ev.Source, ev.Blocked = "ebpf", true; return ev }(), true},
		{"container", "exec", "container.privileged && 'SYS_ADMIN' in container.cap_add",
			func() *event.Event {
				ev := execEvent("/x")
				ev.Container = &event.Container{ID: "c1", Privileged: true, CapAdd: []string{"SYS_ADMIN"}}
				return ev
			}(), true},
		{"cred", "setid", "cred.new_uid == 0 && cred.old_uid != 0 && cred.syscall == 'setuid'",
			func() *event.Event {
				ev := execEvent("/x")
				ev.Kind = event.SetID
				ev.Cred = &event.CredInfo{Syscall: "setuid", OldUID: 1000, NewUID: 0}
				return ev
			}(), true},
		{"ptrace_target", "ptrace", "ptrace.request == 'PTRACE_ATTACH' && target.exe == '/usr/sbin/sshd'",
			func() *event.Event {
				ev := execEvent("/usr/bin/gdb")
				ev.Kind = event.Ptrace
				ev.Ptrace = &event.PtraceOp{Request: "PTRACE_ATTACH"}
				ev.Target = &event.Process{Exe: "/usr/sbin/sshd"}
				return ev
			}(), true},
		{"module_memfd_auth", "module", "module.name == 'rk' && memfd.name == '' && auth.user == ''",
			func() *event.Event {
				ev := execEvent("/sbin/insmod")
				ev.Kind = event.Module
				ev.Module = &event.ModInfo{Name: "rk", Syscall: "finit_module"}
				return ev
			}(), true},
		{"string_of_int", "connect", "string(net.dst_port) == '443'", netEv("1.1.1.1"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, lists+ruleYAML("VGL-TEST-COND", tc.kind, tc.cond, ""), Options{})
			got := len(e.Process(tc.ev)) == 1
			if st := e.Stats(); st.LastError != "" {
				t.Fatalf("evaluation error: %s", st.LastError)
			}
			if got != tc.want {
				t.Errorf("%s on %+v = %v, want %v", tc.cond, tc.ev.Process, got, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, cond, extra, want string
	}{
		{"not_bool", "proc.exe", "", "result is string, want bool"},
		{"unknown_field", "proc.exee == 'x'", "", "undefined field 'exee'"},
		{"unknown_list", "proc.exe in lists.nope", "", "undefined field 'nope'"},
		{"unknown_function", "frob(proc.exe)", "", "undeclared reference to 'frob'"},
		{"syntax", "proc.exe == ", "", "Syntax error"},
		{"int_vs_string", "proc.uid == 'x'", "", "no matching overload"},
		{"unknown_ioc_set", "ioc('nope', proc.cmdline)", "", `unknown IOC set "nope"`},
		{"bad_group_by", "true", "    aggregate: {window: 1m, group_by: 'proc.pid', threshold: 2}\n", "aggregate.group_by: result is int, want string"},
		{"bad_window", "true", "    aggregate: {window: soon, group_by: proc.exec_id, threshold: 2}\n", `aggregate.window "soon"`},
		{"bad_threshold", "true", "    aggregate: {window: 1m, group_by: proc.exec_id, threshold: 0}\n", "aggregate.threshold 0"},
		{"bad_suppress", "true", "    suppress: later\n", `suppress "later"`},
		{"bad_allow", "true", "    allow: [proc.nope]\n", "undefined field 'nope'"},
		{"bad_evidence", "true", "    evidence: {x: 'proc.exe +'}\n", `evidence "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := LoadBytes("bad.yaml", []byte("rules:"+ruleYAML("VGL-TEST-BAD", "exec", tc.cond, tc.extra)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(rs, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "bad.yaml:") || !strings.Contains(err.Error(), "VGL-TEST-BAD") {
				t.Errorf("error %q does not name the file, line and rule", err)
			}
		})
	}
}

func TestAggregation(t *testing.T) {
	doc := "rules:" + ruleYAML("VGL-NET-SCAN", "connect", "true",
		`    aggregate: {window: 10s, group_by: proc.exec_id, distinct: net.dst_ip, threshold: 3}
    suppress: 0s
`) + ruleYAML("VGL-AUTH-BRUTE", "auth", "auth.outcome == 'failure'",
		`    aggregate: {window: 10s, group_by: auth.src_ip, threshold: 3}
    suppress: 0s
`)
	conn := func(sec int, exec, ip string) *event.Event {
		return &event.Event{Kind: event.Connect, Time: t0.Add(time.Duration(sec) * time.Second),
			Process: event.Process{ExecID: exec}, Net: &event.Network{DstIP: ip}}
	}
	fail := func(sec int, src string) *event.Event {
		return &event.Event{Kind: event.Auth, Time: t0.Add(time.Duration(sec) * time.Second),
			Auth: &event.AuthInfo{Outcome: "failure", SrcIP: src}}
	}
	tests := []struct {
		name   string
		events []*event.Event
		want   []int // index of events that raise an alert
		count  []int
	}{
		{"count_reaches_threshold", []*event.Event{fail(0, "a"), fail(1, "a"), fail(2, "a")}, []int{2}, []int{3}},
		{"count_per_group", []*event.Event{fail(0, "a"), fail(1, "b"), fail(2, "a"), fail(3, "b")}, nil, nil},
		{"count_window_expiry", []*event.Event{fail(0, "a"), fail(1, "a"), fail(11, "a"), fail(12, "a")}, nil, nil},
		{"count_sliding", []*event.Event{fail(0, "a"), fail(5, "a"), fail(11, "a"), fail(14, "a")}, []int{3}, []int{3}},
		{"count_starts_over", []*event.Event{fail(0, "a"), fail(1, "a"), fail(2, "a"), fail(3, "a"), fail(4, "a"), fail(5, "a")}, []int{2, 5}, []int{3, 3}},
		{"distinct_repeats_do_not_count", []*event.Event{conn(0, "p", "1"), conn(1, "p", "1"), conn(2, "p", "2"), conn(3, "p", "2")}, nil, nil},
		{"distinct_reaches", []*event.Event{conn(0, "p", "1"), conn(1, "p", "2"), conn(2, "p", "1"), conn(3, "p", "3")}, []int{3}, []int{3}},
		{"distinct_expiry", []*event.Event{conn(0, "p", "1"), conn(1, "p", "2"), conn(12, "p", "3")}, nil, nil},
		{"distinct_per_group", []*event.Event{conn(0, "p", "1"), conn(1, "q", "2"), conn(2, "p", "3")}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, doc, Options{})
			var got, counts []int
			for i, ev := range tc.events {
				for _, a := range e.Process(ev) {
					got = append(got, i)
					counts = append(counts, a.Count)
					if a.Evidence["count"] != a.Count || a.Evidence["window"] != "10s" {
						t.Errorf("evidence %v lacks count/window", a.Evidence)
					}
					if a.Rule.ID == "VGL-NET-SCAN" {
						if d, _ := a.Evidence["distinct_values"].([]string); len(d) != a.Count {
							t.Errorf("distinct_values = %v, want %d values", a.Evidence["distinct_values"], a.Count)
						}
					}
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("alerting events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.count, counts); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAggregationEviction(t *testing.T) {
	doc := "rules:" + ruleYAML("VGL-AUTH-BRUTE", "auth", "true",
		"    aggregate: {window: 1h, group_by: auth.src_ip, threshold: 2}\n")
	e := mustEngine(t, doc, Options{MaxGroups: 3})
	for i := 0; i < 10; i++ {
		e.Process(&event.Event{Kind: event.Auth, Time: t0.Add(time.Duration(i) * time.Second), Auth: &event.AuthInfo{SrcIP: fmt.Sprint(i)}})
	}
	if got := e.Stats().Evictions["VGL-AUTH-BRUTE"]; got != 7 {
		t.Errorf("evictions = %d, want 7", got)
	}
	if n := len(e.rules[0].agg.groups); n != 3 {
		t.Errorf("groups kept = %d, want 3", n)
	}
	// Group "0" was evicted: one more event of it starts afresh.
	if a := e.Process(&event.Event{Kind: event.Auth, Time: t0.Add(20 * time.Second), Auth: &event.AuthInfo{SrcIP: "0"}}); len(a) != 0 {
		t.Errorf("evicted group fired: %v", a)
	}
	// Group "9" is kept and fires.
	if a := e.Process(&event.Event{Kind: event.Auth, Time: t0.Add(21 * time.Second), Auth: &event.AuthInfo{SrcIP: "9"}}); len(a) != 1 {
		t.Errorf("kept group did not fire")
	}
	// Expired groups leave without counting as evictions.
	e2 := mustEngine(t, "rules:"+ruleYAML("VGL-AUTH-BRUTE", "auth", "true",
		"    aggregate: {window: 1s, group_by: auth.src_ip, threshold: 2}\n"), Options{MaxGroups: 2})
	for i := 0; i < 10; i++ {
		e2.Process(&event.Event{Kind: event.Auth, Time: t0.Add(time.Duration(i) * time.Minute), Auth: &event.AuthInfo{SrcIP: fmt.Sprint(i)}})
	}
	if got := e2.Stats().Evictions["VGL-AUTH-BRUTE"]; got != 0 {
		t.Errorf("evictions of expired groups = %d, want 0", got)
	}
}

func TestAllow(t *testing.T) {
	doc := "rules:" + ruleYAML("VGL-EXEC-SHELL", "exec", "basename(proc.exe) == 'sh'",
		"    allow: [\"parent.exe == '/usr/sbin/sshd'\"]\n    suppress: 0s\n")
	tests := []struct {
		name   string
		allow  map[string][]string
		parent string
		user   string
		want   int
	}{
		{"no_allow_matches", nil, "/usr/sbin/nginx", "www-data", 1},
		{"rule_allow", nil, "/usr/sbin/sshd", "www-data", 0},
		{"options_allow", map[string][]string{"VGL-EXEC-SHELL": {"proc.user == 'deploy'"}}, "/usr/sbin/nginx", "deploy", 0},
		{"options_allow_other_user", map[string][]string{"VGL-EXEC-SHELL": {"proc.user == 'deploy'"}}, "/usr/sbin/nginx", "www-data", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, doc, Options{Allow: tc.allow})
			ev := execEvent("/bin/sh", "sh")
			ev.Process.User = tc.user
			ev.Parent = &event.Process{Exe: tc.parent}
			if got := len(e.Process(ev)); got != tc.want {
				t.Errorf("alerts = %d, want %d", got, tc.want)
			}
			if tc.want == 0 && e.Stats().Allowed["VGL-EXEC-SHELL"] != 1 {
				t.Errorf("allowed counter = %v", e.Stats().Allowed)
			}
		})
	}
	rs, err := LoadBytes("t.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(rs, Options{Allow: map[string][]string{"VGL-EXEC-SHELL": {"proc.nope"}}}); err == nil || !strings.Contains(err.Error(), "configured allow 1") {
		t.Errorf("bad configured allow: err = %v", err)
	}
	if _, err := New(rs, Options{Allow: map[string][]string{"VGL-NO-SUCH": {"true"}}}); err == nil || !strings.Contains(err.Error(), "unknown rule") {
		t.Errorf("allow for unknown rule: err = %v", err)
	}
}

func TestSuppress(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		evs   []*event.Event
		want  []int
		folds int
	}{
		{"default_5m_same_exec_id", "", []*event.Event{at(0, "a"), at(60, "a"), at(299, "a"), at(300, "a")}, []int{0, 3}, 2},
		{"different_exec_id", "", []*event.Event{at(0, "a"), at(1, "b")}, []int{0, 1}, 0},
		{"custom_window", "    suppress: 10s\n", []*event.Event{at(0, "a"), at(5, "a"), at(10, "a")}, []int{0, 2}, 1},
		{"disabled", "    suppress: 0s\n", []*event.Event{at(0, "a"), at(0, "a")}, []int{0, 1}, 0},
		{"custom_key", "    suppress_key: proc.exe\n", []*event.Event{at(0, "a"), at(1, "b")}, []int{0}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var folded []string
			var first string
			e := mustEngine(t, "rules:"+ruleYAML("VGL-EXEC-X", "exec", "true", tc.extra), Options{
				OnFold: func(id string, n int) { folded = append(folded, fmt.Sprintf("%s=%d", id, n)) },
			})
			var got []int
			for i, ev := range tc.evs {
				for _, a := range e.Process(ev) {
					if first == "" {
						first = a.ID
					}
					got = append(got, i)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("alerting events (-want +got):\n%s", diff)
			}
			if st := e.Stats(); int(st.Suppressed["VGL-EXEC-X"]) != tc.folds || len(folded) != tc.folds {
				t.Errorf("suppressed = %d, folds = %v, want %d", st.Suppressed["VGL-EXEC-X"], folded, tc.folds)
			}
			if tc.folds > 0 && folded[0] != first+"=2" {
				t.Errorf("first fold = %s, want %s=2", folded[0], first)
			}
		})
	}
}

func at(sec int, execID string) *event.Event {
	ev := execEvent("/bin/x", "x")
	ev.Time = t0.Add(time.Duration(sec) * time.Second)
	ev.Process.ExecID = execID
	return ev
}

func TestResponse(t *testing.T) {
	tests := []struct {
		name       string
		response   string
		override   map[string]bool
		wantAction string
		wantResult string
	}{
		{"default_none", "", nil, "none", ""},
		{"alert_only", "    response: {action: kill_tree}\n", nil, "kill_tree", "alert_only"},
		{"act", "    response: {action: kill, act: true}\n", nil, "kill", "pending"},
		{"override_off", "    response: {action: kill, act: true}\n", map[string]bool{"VGL-EXEC-X": false}, "kill", "alert_only"},
		{"override_on", "    response: {action: quarantine}\n", map[string]bool{"VGL-EXEC-X": true}, "quarantine", "pending"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, "rules:"+ruleYAML("VGL-EXEC-X", "exec", "true", tc.response), Options{ResponseOverride: tc.override})
			a := e.Process(execEvent("/x"))
			if len(a) != 1 {
				t.Fatalf("alerts = %d", len(a))
			}
			if got := a[0].Response; got.Action != tc.wantAction || got.Result != tc.wantResult {
				t.Errorf("response = %+v, want %s/%s", got, tc.wantAction, tc.wantResult)
			}
		})
	}
}

func TestAlert(t *testing.T) {
	doc := "rules:" + ruleYAML("VGL-FILE-CRON", "file", "path_under(file.path, ['/etc/cron.d'])",
		"    evidence: {dir: 'dirname(file.path)', anc: proc.ancestors, n: 'size(proc.args)', args: proc.args}\n")
	e := mustEngine(t, doc, Options{Host: "web-1"})
	ev := execEvent("/usr/bin/tee", "tee", "/etc/cron.d/x")
	ev.Kind = event.File
	ev.Time = time.Date(2026, 2, 3, 4, 5, 6, 7, time.FixedZone("x", 3600))
	ev.File = &event.FileInfo{Op: event.OpCreate, Path: "/etc/cron.d/x"}
	ev.Container = &event.Container{ID: "c1", Image: "nginx:1"}
	ev.Process.Ancestors = []event.Ancestor{{PID: 1, Exe: "/sbin/init"}}
	got := e.Process(ev)
	if len(got) != 1 {
		t.Fatalf("alerts = %d, want 1", len(got))
	}
	a := got[0]
	if len(a.ID) != 32 {
		t.Errorf("ID = %q", a.ID)
	}
	want := &alert.Alert{
		ID: a.ID, Time: ev.Time.UTC(), Host: "web-1",
		Rule:      alert.Rule{ID: "VGL-FILE-CRON", Version: 1, Title: "test rule"},
		Severity:  severity.High,
		Attack:    alert.Attack{Tactics: []string{"TA0002"}, Techniques: []string{"T1059.004"}},
		Process:   alert.ProcessOf(&ev.Process),
		Container: ev.Container,
		Evidence: map[string]any{"kind": "file", "file.op": "create", "file.path": "/etc/cron.d/x", "dir": "/etc/cron.d",
			"n": int64(2), "anc": []event.Ancestor{{PID: 1, Exe: "/sbin/init"}}, "args": []any{"tee", "/etc/cron.d/x"}},
		Response: alert.Response{Action: "none"},
		Count:    1,
	}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("alert (-want +got):\n%s", diff)
	}
	if _, err := json.Marshal(a); err != nil {
		t.Errorf("alert does not marshal: %v", err)
	}
	// Without Options.Host the event's host is used.
	e2 := mustEngine(t, doc, Options{})
	if got := e2.Process(ev); len(got) != 1 || got[0].Host != "h1" {
		t.Errorf("host = %v", got)
	}
}

func TestIndexAndStats(t *testing.T) {
	doc := "rules:" + ruleYAML("VGL-EXEC-A", "exec", "proc.exe == '/a'", "") +
		ruleYAML("VGL-FILE-B", "file, exec", "proc.exe == '/b'", "") +
		ruleYAML("VGL-EXEC-ERR", "exec", "proc.args[5] == 'x'", "")
	e := mustEngine(t, doc, Options{})
	e.Process(execEvent("/a"))
	e.Process(execEvent("/b"))
	fe := execEvent("/b")
	fe.Kind = event.File
	fe.Process.ExecID = "other"
	e.Process(fe)
	e.Process(&event.Event{Kind: event.Connect})
	st := e.Stats()
	want := Stats{Events: 4,
		ByKind:     map[string]uint64{"exec": 2, "file": 1, "connect": 1},
		RuleHits:   map[string]uint64{"VGL-EXEC-A": 1, "VGL-FILE-B": 2},
		Allowed:    map[string]uint64{},
		Suppressed: map[string]uint64{},
		EvalErrors: map[string]uint64{"VGL-EXEC-ERR": 2},
		Evictions:  map[string]uint64{},
		LastError:  st.LastError,
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if !strings.Contains(st.LastError, "VGL-EXEC-ERR") {
		t.Errorf("LastError = %q", st.LastError)
	}
	e.Reset()
	if st := e.Stats(); st.Events != 0 || len(st.RuleHits) != 0 {
		t.Errorf("stats after Reset = %+v", st)
	}
}

// TestEveryEventFieldInCEL checks that each JSON field of the event types
// is a field of the CEL type, so rules can use every name the contract has.
func TestEveryEventFieldInCEL(t *testing.T) {
	for _, tc := range []struct {
		ot *objectType
		v  any
	}{
		{processType, event.Process{}}, {ancestorType, event.Ancestor{}}, {containerType, event.Container{}},
		{fileType, event.FileInfo{}}, {netType, event.Network{}}, {credType, event.CredInfo{}},
		{ptraceType, event.PtraceOp{}}, {moduleType, event.ModInfo{}}, {memfdType, event.MemfdInfo{}}, {authType, event.AuthInfo{}},
	} {
		rt := reflect.TypeOf(tc.v)
		for i := 0; i < rt.NumField(); i++ {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if _, ok := tc.ot.fields[name]; !ok {
				t.Errorf("%s: field %q of %s is not in CEL", tc.ot.name, name, rt.Name())
			}
		}
		if len(tc.ot.fields) > rt.NumField() {
			t.Errorf("%s has more CEL fields than %s", tc.ot.name, rt.Name())
		}
	}
}

func TestConcurrentProcess(t *testing.T) {
	doc := "rules:" + ruleYAML("VGL-AUTH-BRUTE", "auth", "auth.outcome == 'failure'",
		"    aggregate: {window: 1h, group_by: auth.src_ip, threshold: 100}\n")
	e := mustEngine(t, doc, Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	alerts := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				n := len(e.Process(&event.Event{Kind: event.Auth, Time: t0, Auth: &event.AuthInfo{Outcome: "failure", SrcIP: "10.0.0.1"}}))
				mu.Lock()
				alerts += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if alerts != 1 || e.Stats().Suppressed["VGL-AUTH-BRUTE"] != 9 {
		t.Errorf("alerts = %d, suppressed = %d; want 1 and 9", alerts, e.Stats().Suppressed["VGL-AUTH-BRUTE"])
	}
}

// TestFastFieldReads checks that plain field reads bypass cel-go's
// attribute resolution, and that a comprehension variable shadowing an
// event object keeps the ordinary (correct) resolution.
func TestFastFieldReads(t *testing.T) {
	doc := "rules:" + ruleYAML("VGL-EXEC-A", "exec", "proc.exe == '/a' && parent.exe == '/p' && has(proc.cwd)", "") +
		ruleYAML("VGL-EXEC-B", "exec", "proc.args.exists(proc, proc == 'x')", "")
	e := mustEngine(t, doc, Options{})
	var keys []string
	for k := range e.fields.readers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"parent.exe", "proc.exe", "proc.exec_id"}, keys); diff != "" {
		t.Errorf("fast readers (-want +got):\n%s", diff)
	}
	ev := execEvent("/a", "x")
	ev.Parent = &event.Process{Exe: "/p"}
	if got := len(e.Process(ev)); got != 1 {
		t.Errorf("alerts without cwd = %d, want 1 (VGL-EXEC-B)", got)
	}
	ev2 := execEvent("/a", "y")
	ev2.Process.ExecID, ev2.Process.CWD = "other", "/srv"
	ev2.Parent = &event.Process{Exe: "/p"}
	if got := e.Process(ev2); len(got) != 1 || got[0].Rule.ID != "VGL-EXEC-A" {
		t.Errorf("alerts = %v, want VGL-EXEC-A only", got)
	}
}

// TestOptionsNow checks that a clock in Options, not the event times,
// drives windows and suppression (the agent's live mode).
func TestOptionsNow(t *testing.T) {
	now := t0
	doc := "rules:" + ruleYAML("VGL-AUTH-BRUTE", "auth", "true", "    aggregate: {window: 10s, group_by: auth.src_ip, threshold: 2}\n")
	e := mustEngine(t, doc, Options{Now: func() time.Time { return now }})
	ev := func(eventTime time.Time) *event.Event {
		return &event.Event{Kind: event.Auth, Time: eventTime, Auth: &event.AuthInfo{SrcIP: "a"}}
	}
	// Event times an hour apart, clock unchanged: one window.
	e.Process(ev(t0))
	if got := e.Process(ev(t0.Add(time.Hour))); len(got) != 1 {
		t.Fatalf("alerts = %d, want 1", len(got))
	}
	// Same event times, clock past the window: no alert.
	now = t0.Add(time.Hour)
	e.Process(ev(t0))
	now = now.Add(11 * time.Second)
	if got := e.Process(ev(t0)); len(got) != 0 {
		t.Errorf("alerts across an expired window = %d", len(got))
	}
}
