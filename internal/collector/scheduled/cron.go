package scheduled

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/textio"
)

// maxLine bounds one line of a crontab, anacrontab or at job; longer lines
// are cut there (and are a per-line problem in crontabs). Vixie cron reads
// at most 1000 bytes of a command; this is far above.
const maxLine = 64 << 10

// cronJob is one job line of a crontab.
type cronJob struct {
	Line int
	// Schedule is the five time fields joined by single spaces, or a
	// special such as "@reboot".
	Schedule string
	// User is the user column of a system crontab (/etc/crontab,
	// /etc/cron.d); "" in a user's crontab.
	User    string
	Command string
}

// cronEnv is an environment assignment (SHELL=/bin/sh, MAILTO="").
type cronEnv struct {
	Line        int
	Name, Value string
}

// lineError is a malformed line.
type lineError struct {
	Line int
	Msg  string
}

// crontab is a parsed crontab file.
type crontab struct {
	Jobs   []cronJob
	Env    []cronEnv
	Errors []lineError
}

// specials are the "@" schedules of Vixie cron, cronie and busybox.
var specials = map[string]bool{
	"@reboot": true, "@yearly": true, "@annually": true, "@monthly": true,
	"@weekly": true, "@daily": true, "@midnight": true, "@hourly": true,
}

// parseCrontab reads a crontab as cron does: blank lines and lines whose
// first non-blank character is '#' are comments; NAME=value lines set the
// environment; every other line is a job with five time fields (or an
// "@" special), then in a system crontab a user name, then the command.
// Each malformed line is recorded in Errors and skipped.
func parseCrontab(r io.Reader, system bool) (*crontab, error) {
	ct := &crontab{}
	err := eachCronLine(r, &ct.Env, &ct.Errors, func(n int, l string) error {
		job, err := parseJob(l, system)
		if err == nil {
			job.Line = n
			ct.Jobs = append(ct.Jobs, job)
		}
		return err
	})
	return ct, err
}

// eachCronLine reads a crontab or an anacrontab as cron and anacron do:
// blank lines and lines whose first non-blank character is '#' are
// comments, NAME=value lines are added to env, and every other line,
// without its leading blanks, goes to job. A line cut at maxLine, or
// one that job fails, is recorded in errs.
func eachCronLine(r io.Reader, env *[]cronEnv, errs *[]lineError, job func(n int, l string) error) error {
	lr := textio.NewReader(r, maxLine)
	for lr.Next() {
		n := lr.Num()
		l := strings.TrimLeft(lr.Text(), " \t")
		if l == "" || l[0] == '#' {
			continue
		}
		if lr.Long() {
			*errs = append(*errs, lineError{n, fmt.Sprintf("line longer than %d bytes", maxLine)})
			continue
		}
		if name, value, ok := parseEnv(l); ok {
			*env = append(*env, cronEnv{Line: n, Name: name, Value: value})
			continue
		}
		if err := job(n, l); err != nil {
			*errs = append(*errs, lineError{n, err.Error()})
		}
	}
	return lr.Err()
}

// parseEnv recognises an environment assignment as cron's load_env does:
// a name, optionally quoted, then optional blanks and '='. The value is
// trimmed and loses one pair of enclosing quotes.
func parseEnv(l string) (name, value string, ok bool) {
	s := l
	if q := s[0]; q == '"' || q == '\'' {
		end := strings.IndexByte(s[1:], q)
		if end < 0 {
			return "", "", false
		}
		name, s = s[1:1+end], s[2+end:]
	} else {
		end := strings.IndexAny(s, "= \t")
		if end <= 0 {
			return "", "", false
		}
		name, s = s[:end], s[end:]
	}
	s = strings.TrimLeft(s, " \t")
	if name == "" || s == "" || s[0] != '=' {
		return "", "", false
	}
	value = strings.TrimSpace(s[1:])
	if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
		value = value[1 : len(value)-1]
	}
	return name, value, true
}

// nextField splits the first blank-separated field off s.
func nextField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t")
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

func parseJob(l string, system bool) (cronJob, error) {
	var job cronJob
	rest := l
	if l[0] == '@' {
		var sp string
		sp, rest = nextField(l)
		if !specials[sp] {
			return job, fmt.Errorf("unknown special schedule %q", sp)
		}
		job.Schedule = sp
	} else {
		var f [5]string
		for i := range f {
			f[i], rest = nextField(rest)
			if f[i] == "" {
				return job, fmt.Errorf("missing %s field", cronFields[i].name)
			}
			if err := checkField(f[i], cronFields[i]); err != nil {
				return job, err
			}
		}
		job.Schedule = strings.Join(f[:], " ")
	}
	if system {
		job.User, rest = nextField(rest)
		if job.User == "" {
			return job, errors.New("missing user")
		}
	}
	job.Command = strings.TrimSpace(rest)
	if job.Command == "" {
		return job, errors.New("missing command")
	}
	return job, nil
}

type fieldSpec struct {
	name     string
	min, max int
	// names are accepted for the values names[i] -> i + min (month) or
	// i (day of week, where min is 0).
	names []string
}

var cronFields = [5]fieldSpec{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// checkField validates one time field: a comma-separated list of "*",
// a number or name, or a range "a-b", each optionally followed by
// "/step". A single value with a step ("5/15") means "5 to the maximum,
// every 15", as cronie reads it.
func checkField(s string, f fieldSpec) error {
	for _, elem := range strings.Split(s, ",") {
		if err := checkElem(elem, f); err != nil {
			return fmt.Errorf("bad %s field %q: %w", f.name, s, err)
		}
	}
	return nil
}

func checkElem(elem string, f fieldSpec) error {
	if elem == "" {
		return errors.New("empty list element")
	}
	rng, step, hasStep := strings.Cut(elem, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n <= 0 || len(step) > 4 {
			return fmt.Errorf("bad step %q", step)
		}
	}
	if rng == "*" {
		return nil
	}
	lo, hi, isRange := strings.Cut(rng, "-")
	a, err := fieldValue(lo, f)
	if err != nil {
		return err
	}
	if !isRange {
		return nil
	}
	b, err := fieldValue(hi, f)
	if err != nil {
		return err
	}
	if a > b {
		return fmt.Errorf("range %q runs backwards", rng)
	}
	return nil
}

func fieldValue(s string, f fieldSpec) (int, error) {
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.Atoi(s)
		if err != nil || len(s) > 4 {
			return 0, fmt.Errorf("bad number %q", s)
		}
		if n < f.min || n > f.max {
			return 0, fmt.Errorf("%d out of range %d-%d", n, f.min, f.max)
		}
		return n, nil
	}
	for i, name := range f.names {
		if strings.EqualFold(s, name) {
			if f.min == 0 {
				return i, nil
			}
			return i + f.min, nil
		}
	}
	return 0, fmt.Errorf("bad value %q", s)
}
