package scheduled

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testutil"
)

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(p) })
}

// TestCollectLive creates a cron.d file, a user's crontab, an at job and
// an enabled systemd timer on this machine and expects each in the
// collector's output for "/".
func TestCollectLive(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []string{"crontab", "at", "atrm", "useradd", "userdel", "systemctl"} {
		testutil.RequireCommand(t, c)
	}
	id := randomSuffix(t)
	marker := "/bin/echo vigil-" + id

	// A system crontab fragment.
	cronD := "/etc/cron.d/vigil-test-" + id
	writeFile(t, cronD, "# vigil live test\nMAILTO=\"\"\n*/7 * * * * root "+marker+"-crond\n", 0o644)

	// A user's crontab, for a throwaway user so that root's is untouched.
	user := "vigil" + id
	run(t, "useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", user)
	t.Cleanup(func() {
		exec.Command("crontab", "-u", user, "-r").Run()
		if out, err := exec.Command("userdel", user).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", user, err, out)
		}
	})
	tab := filepath.Join(t.TempDir(), "crontab")
	if err := os.WriteFile(tab, []byte("13 4 * * mon "+marker+"-user\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "crontab", "-u", user, tab)

	// An at job; atd need not run.
	at := exec.Command("at", "now", "+", "2", "hours")
	at.Stdin = strings.NewReader(marker + "-at\n")
	out, err := at.CombinedOutput()
	if err != nil {
		t.Fatalf("at: %v\n%s", err, out)
	}
	job := ""
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "job" {
			job = f[1]
		}
	}
	if job == "" {
		t.Fatalf("no job number in at's output:\n%s", out)
	}
	t.Cleanup(func() { exec.Command("atrm", job).Run() })
	due := time.Now().Add(2 * time.Hour)

	// A systemd timer and its service, enabled offline by systemctl.
	unit := "vigil-test-" + id
	writeFile(t, "/etc/systemd/system/"+unit+".service",
		"[Unit]\nDescription=vigil test\n\n[Service]\nType=oneshot\nUser=nobody\nExecStart="+marker+"-timer\n", 0o644)
	writeFile(t, "/etc/systemd/system/"+unit+".timer",
		"[Unit]\nDescription=vigil test timer\n\n[Timer]\nOnCalendar=*-*-* 03:33:00\nOnBootSec=5min\n\n[Install]\nWantedBy=timers.target\n", 0o644)
	wants := "/etc/systemd/system/timers.target.wants/" + unit + ".timer"
	t.Cleanup(func() {
		exec.Command("systemctl", "disable", unit+".timer").Run()
		os.Remove(wants)
	})
	run(t, "systemctl", "enable", unit+".timer")
	if _, err := os.Lstat(wants); err != nil {
		t.Fatalf("systemctl enable made no link: %v", err)
	}

	got, problems, err := collect(t, "/")
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	for _, p := range problems {
		if strings.Contains(p, id) {
			t.Errorf("problem with a test file: %s", p)
		}
	}
	var mine []inventory.ScheduledTask
	for _, task := range got {
		if !strings.Contains(task.Command, marker) {
			continue
		}
		if task.Type == "at" {
			// The file name holds the due time: check it, then blank
			// what cannot be known in advance.
			when, err := time.Parse(time.RFC3339, task.Schedule)
			if err != nil || when.Sub(due).Abs() > 2*time.Minute || when.Location() != time.UTC {
				t.Errorf("at job schedule %q, want about %s in UTC", task.Schedule, due.UTC().Format(time.RFC3339))
			}
			if !strings.HasPrefix(task.Source, "/var/spool/cron/atjobs/a") {
				t.Errorf("at job source %q, want a queue a file in /var/spool/cron/atjobs", task.Source)
			}
			task.Schedule, task.Source = "", ""
		}
		mine = append(mine, task)
	}
	want := []inventory.ScheduledTask{
		{Type: "cron", User: "root", Schedule: "*/7 * * * *", Command: marker + "-crond", Source: cronD, Line: 3, Enabled: true},
		{Type: "cron", User: user, Schedule: "13 4 * * mon", Command: marker + "-user", Source: "/var/spool/cron/crontabs/" + user, Line: 4, Enabled: true},
		{Type: "at", User: "root", Command: marker + "-at", Enabled: true},
		{
			Type: "systemd_timer", User: "nobody", Schedule: "OnCalendar=*-*-* 03:33:00; OnBootSec=5min",
			Command: marker + "-timer", Source: "/etc/systemd/system/" + unit + ".timer", Unit: unit + ".service", Enabled: true,
		},
	}
	if diff := cmp.Diff(want, mine); diff != "" {
		t.Errorf("live tasks (-want +got):\n%s", diff)
	}
}
