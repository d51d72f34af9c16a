package scheduled

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// anacronJob is one job line of an anacrontab.
type anacronJob struct {
	Line    int
	Period  string // days, or "@monthly" etc.
	Delay   string // minutes
	ID      string
	Command string
}

type anacrontab struct {
	Jobs   []anacronJob
	Env    []cronEnv
	Errors []lineError
}

var anacronPeriods = map[string]bool{
	"@daily": true, "@weekly": true, "@monthly": true, "@yearly": true, "@annually": true,
}

// parseAnacrontab reads anacrontab(5): comments, NAME=value assignments
// (SHELL, PATH, MAILTO, RANDOM_DELAY, START_HOURS_RANGE, ...) and job
// lines "period delay job-identifier command".
func parseAnacrontab(r io.Reader) (*anacrontab, error) {
	at := &anacrontab{}
	err := eachCronLine(r, &at.Env, &at.Errors, func(n int, l string) error {
		job, err := parseAnacronJob(l)
		if err == nil {
			job.Line = n
			at.Jobs = append(at.Jobs, job)
		}
		return err
	})
	return at, err
}

func parseAnacronJob(l string) (anacronJob, error) {
	var j anacronJob
	rest := l
	j.Period, rest = nextField(rest)
	j.Delay, rest = nextField(rest)
	j.ID, rest = nextField(rest)
	j.Command = strings.TrimSpace(rest)
	if !anacronPeriods[j.Period] {
		if n, err := strconv.Atoi(j.Period); err != nil || n <= 0 || len(j.Period) > 6 {
			return j, fmt.Errorf("bad period %q", j.Period)
		}
	}
	if n, err := strconv.Atoi(j.Delay); err != nil || n < 0 || len(j.Delay) > 6 {
		return j, fmt.Errorf("bad delay %q", j.Delay)
	}
	if j.ID == "" || strings.Contains(j.ID, "/") {
		return j, fmt.Errorf("bad job identifier %q", j.ID)
	}
	if j.Command == "" {
		return j, errors.New("missing command")
	}
	return j, nil
}
