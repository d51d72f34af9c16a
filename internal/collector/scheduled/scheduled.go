// Package scheduled collects scheduled tasks: system and user crontabs,
// the cron.hourly/daily/... directories (and Alpine's /etc/periodic),
// anacron jobs, pending at jobs and systemd timers.
//
// Files that cron ignores because of their names (a /etc/cron.d file with
// a dot in its name on Debian, a "~" backup on Red Hat) are still
// reported, with Enabled false and without per-line problems: a job an
// administrator believes to be scheduled but that never runs is worth
// seeing, and so is a planted file waiting for a rename.
package scheduled

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/collector/internal/rootread"
	"github.com/vigilsec/vigil/internal/etcfiles"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/systemd"
)

// Name is the collector's name and JSON category key.
const Name = "scheduled_tasks"

type scheduledCollector struct{}

// New returns the scheduled_tasks collector.
func New() collector.Collector { return scheduledCollector{} }

func (scheduledCollector) Name() string { return Name }
func (scheduledCollector) Version() int { return 1 }
func (scheduledCollector) Requirements() *plugin.Capabilities {
	return &plugin.Capabilities{Root: true}
}

// Collect reads every scheduler's files in in.Root.
func (scheduledCollector) Collect(ctx context.Context, in *collector.Input) (*inventory.Inventory, error) {
	s := &scan{ctx: ctx, Reader: rootread.Reader{FS: in.Root}}
	_, err := fs.Stat(in.Root, "etc/redhat-release")
	s.redhat = err == nil
	if err := s.Run(ctx, s.systemCrontabs, s.userCrontabs, s.cronDirs, s.anacron, s.atJobs, s.timers); err != nil {
		return nil, err
	}
	if !s.Found {
		return nil, plugin.Skip("no crontab, cron directory, anacrontab, at spool or systemd unit directory in the root")
	}
	return &inventory.Inventory{ScheduledTasks: s.tasks}, s.Problems.Err()
}

type scan struct {
	rootread.Reader
	ctx    context.Context
	redhat bool
	tasks  []inventory.ScheduledTask
	users  map[int]string // uid -> name from etc/passwd; nil when unreadable
	names  map[string]bool
	loaded bool
}

// loadUsers reads etc/passwd once, for at job uids and crontab owners.
func (s *scan) loadUsers() {
	if s.loaded {
		return
	}
	s.loaded = true
	f, err := s.FS.Open("etc/passwd")
	if err != nil {
		return
	}
	defer f.Close()
	entries, _, _ := etcfiles.ParsePasswd(f)
	s.users, s.names = etcfiles.UIDNames(entries), make(map[string]bool, len(entries))
	for _, e := range entries {
		s.names[e.Name] = true
	}
}

// cronNameOK reports whether cron reads a /etc/cron.d file of this name,
// and run-parts runs a cron.daily etc. file of this name. Debian's cron
// and run-parts (and busybox run-parts) accept only [A-Za-z0-9_-];
// cronie and Red Hat's run-parts skip dot files, backups and package
// manager leftovers.
func (s *scan) cronNameOK(name string) bool {
	if !s.redhat {
		for _, c := range name {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
		return name != ""
	}
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || strings.HasSuffix(name, ",") {
		return false
	}
	for _, suf := range []string{".rpmsave", ".rpmorig", ".rpmnew", ".swp", ".cfsaved"} {
		if strings.HasSuffix(name, suf) {
			return false
		}
	}
	return true
}

// crontabFile parses one crontab. user is "" for system crontabs (which
// have a user column). Problems are reported only for enabled files.
func (s *scan) crontabFile(p, user string, enabled bool) {
	f := s.Open(p)
	if f == nil {
		return
	}
	defer f.Close()
	ct, err := parseCrontab(f, user == "")
	if err != nil {
		s.Problems.Addf("read %q: %v", "/"+p, err)
		return
	}
	if enabled {
		for _, e := range ct.Errors {
			s.Problems.Addf("/%s:%d: %s", p, e.Line, e.Msg)
		}
	}
	for _, j := range ct.Jobs {
		u := user
		if u == "" {
			u = j.User
		}
		s.tasks = append(s.tasks, inventory.ScheduledTask{
			Type: "cron", User: u, Schedule: j.Schedule, Command: j.Command,
			Source: "/" + p, Line: j.Line, Enabled: enabled,
		})
	}
}

// systemCrontabs reads /etc/crontab and /etc/cron.d/*.
func (s *scan) systemCrontabs() {
	s.crontabFile("etc/crontab", "", true)
	for _, e := range s.ReadDir("etc/cron.d") {
		if s.ctx.Err() != nil {
			return
		}
		p := path.Join("etc/cron.d", e.Name())
		if _, fi, err := s.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue // cron reads regular files (and links to them) only
		}
		s.crontabFile(p, "", s.cronNameOK(e.Name()))
	}
}

// userCrontabDirs hold per-user crontabs named after their user: Debian
// and Alpine's cronie, Alpine's busybox crond, and Red Hat's cronie.
var userCrontabDirs = []string{"var/spool/cron/crontabs", "etc/crontabs", "var/spool/cron"}

func (s *scan) userCrontabs() {
	seen := make(map[string]bool)
	for _, dir := range userCrontabDirs {
		real, err := systemd.ResolvePath(s.FS, dir)
		if err != nil || seen[real] {
			// Alpine links /var/spool/cron/crontabs to /etc/crontabs.
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.Problems.Addf("resolve %q: %v", "/"+dir, err)
			}
			continue
		}
		seen[real] = true
		for _, e := range s.ReadDir(real) {
			if s.ctx.Err() != nil {
				return
			}
			name := e.Name()
			// cron.update is busybox crond's reload flag; tmp.* are
			// crontab(1)'s files in the making.
			if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || name == "cron.update" ||
				strings.HasPrefix(name, "tmp.") {
				continue
			}
			s.loadUsers()
			// cron skips the crontab of a user that no longer exists.
			enabled := s.names == nil || s.names[name]
			s.crontabFile(path.Join(real, name), name, enabled)
		}
	}
}

// cronDirs are run by run-parts from /etc/crontab, anacron or (Alpine)
// root's crontab; the schedule is the directory's period.
var cronDirs = []struct{ dir, period string }{
	{"etc/cron.hourly", "hourly"},
	{"etc/cron.daily", "daily"},
	{"etc/cron.weekly", "weekly"},
	{"etc/cron.monthly", "monthly"},
	{"etc/cron.yearly", "yearly"},
	{"etc/periodic/15min", "15min"},
	{"etc/periodic/hourly", "hourly"},
	{"etc/periodic/daily", "daily"},
	{"etc/periodic/weekly", "weekly"},
	{"etc/periodic/monthly", "monthly"},
}

func (s *scan) cronDirs() {
	for _, d := range cronDirs {
		for _, e := range s.ReadDir(d.dir) {
			if s.ctx.Err() != nil {
				return
			}
			p := path.Join(d.dir, e.Name())
			_, fi, err := s.Stat(p)
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
				continue // run-parts runs executable files only
			}
			s.tasks = append(s.tasks, inventory.ScheduledTask{
				Type: "cron_dir", User: "root", Schedule: d.period, Command: "/" + p,
				Source: "/" + p, Enabled: s.cronNameOK(e.Name()),
			})
		}
	}
}

func (s *scan) anacron() {
	const p = "etc/anacrontab"
	f := s.Open(p)
	if f == nil {
		return
	}
	defer f.Close()
	at, err := parseAnacrontab(f)
	if err != nil {
		s.Problems.Addf("read %q: %v", "/"+p, err)
		return
	}
	for _, e := range at.Errors {
		s.Problems.Addf("/%s:%d: %s", p, e.Line, e.Msg)
	}
	for _, j := range at.Jobs {
		s.tasks = append(s.tasks, inventory.ScheduledTask{
			Type: "anacron", User: "root", Schedule: "period=" + j.Period + " delay=" + j.Delay,
			Command: j.Command, Source: "/" + p, Line: j.Line, Enabled: true,
		})
	}
}

// atSpools are Debian's (and Alpine's) and Red Hat's at spool directories.
var atSpools = []string{"var/spool/cron/atjobs", "var/spool/at"}

func (s *scan) atJobs() {
	seen := make(map[string]bool)
	for _, dir := range atSpools {
		real, err := systemd.ResolvePath(s.FS, dir)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		for _, e := range s.ReadDir(real) {
			if s.ctx.Err() != nil {
				return
			}
			queue, due, ok := atFileTime(e.Name())
			if !ok || !e.Type().IsRegular() {
				continue // .SEQ, the spool/ directory
			}
			s.atJob(path.Join(real, e.Name()), e, queue != '=', due.Format("2006-01-02T15:04:05Z07:00"))
		}
	}
}

func (s *scan) atJob(p string, e fs.DirEntry, notRunning bool, due string) {
	fi, err := e.Info()
	if err != nil {
		s.Problems.Addf("stat %q: %v", "/"+p, err)
		return
	}
	f := s.Open(p)
	if f == nil {
		return
	}
	defer f.Close()
	job, err := parseAtJob(f)
	if err != nil {
		s.Problems.Addf("/%s: %v", p, err)
		return
	}
	s.loadUsers()
	s.tasks = append(s.tasks, inventory.ScheduledTask{
		Type: "at", User: atUser(job, s.users), Schedule: due, Command: job.Command, Source: "/" + p,
		// at(1) sets the owner's execute bit once the job is complete;
		// atd runs only such files, and renames running ones to queue '='.
		Enabled: notRunning && fi.Mode().Perm()&0o100 != 0,
	})
}

// timerKeys are the [Timer] settings that say when a timer elapses.
var timerKeys = []string{
	"OnCalendar", "OnActiveSec", "OnBootSec", "OnStartupSec", "OnUnitActiveSec",
	"OnUnitInactiveSec", "OnClockChange", "OnTimezoneChange",
}

func (s *scan) timers() {
	tree, problems := systemd.Load(s.ctx, s.FS)
	for _, p := range problems {
		s.Problems.Add(p)
	}
	if len(tree.Dirs()) > 0 {
		s.Found = true
	}
	for _, name := range tree.Names(".timer") {
		if s.ctx.Err() != nil {
			return
		}
		s.timer(tree, name)
	}
}

func (s *scan) timer(tree *systemd.Tree, name string) {
	u, problems, err := tree.Unit(name)
	if err != nil {
		s.Problems.Addf("timer %q: %v", name, err)
		return
	}
	for _, p := range problems {
		s.Problems.Add(p)
	}
	var sched []string
	for _, k := range timerKeys {
		for _, v := range u.Values("Timer", k) {
			sched = append(sched, k+"="+v)
		}
	}
	task := inventory.ScheduledTask{
		Type: "systemd_timer", User: "root", Schedule: strings.Join(sched, "; "),
		Source: u.Path, Unit: u.Value("Timer", "Unit"), Enabled: tree.Enabled(name),
	}
	if task.Unit == "" {
		task.Unit = strings.TrimSuffix(name, ".timer") + ".service"
	}
	svc, problems, err := tree.Unit(task.Unit)
	if err != nil {
		s.Problems.Addf("timer %q: activated %v", name, err)
	} else {
		for _, p := range problems {
			s.Problems.Add(p)
		}
		task.Command = strings.Join(svc.Values("Service", "ExecStart"), "; ")
		if user := svc.Value("Service", "User"); user != "" {
			task.User = user
		}
	}
	s.tasks = append(s.tasks, task)
}
