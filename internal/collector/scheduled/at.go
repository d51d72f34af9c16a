package scheduled

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/textio"
)

// atName matches the spool file names at(1) writes: the queue letter
// ('=' while atd runs the job), the job number in 5 hex digits and the
// run time in minutes since the epoch in 8 hex digits.
var atName = regexp.MustCompile(`^([a-zA-Z=])([0-9a-f]{5})([0-9a-f]{8})$`)

// atFileTime returns the time a job file is due, from its name.
func atFileTime(name string) (queue byte, t time.Time, ok bool) {
	m := atName.FindStringSubmatch(name)
	if m == nil {
		return 0, time.Time{}, false
	}
	mins, err := strconv.ParseInt(m[3], 16, 64)
	if err != nil {
		return 0, time.Time{}, false
	}
	return m[1][0], time.Unix(mins*60, 0).UTC(), true
}

// maxCommand bounds the command text kept from an at job or rc.local.
const maxCommand = 4096

// atJob is what an at job file says.
type atJob struct {
	UID      int
	MailUser string
	Command  string
}

var atHeader = regexp.MustCompile(`^# atrun uid=(\d+) gid=\d+`)

// parseAtJob reads a job script written by at(1):
//
//	#!/bin/sh
//	# atrun uid=0 gid=0
//	# mail root 0
//	umask 22
//	NAME=value; export NAME        (the submitter's environment)
//	cd /root || {
//		 echo 'Execution directory inaccessible' >&2
//		 exit 1
//	}
//	<the user's commands>
//
// Debian's at 3.2 writes the commands as they are; Red Hat's at wraps
// them in "${SHELL:-/bin/sh} << 'marcinDELIMITER<hex>'" ... "marcinDELIMITER<hex>".
// The command is the non-empty lines of that last part.
func parseAtJob(r io.Reader) (*atJob, error) {
	job := &atJob{UID: -1}
	const (
		preamble = iota
		cdBlock
		body
		heredoc
		done
	)
	state := preamble
	var delim string
	var cmd strings.Builder
	lr := textio.NewReader(r, maxLine)
lines:
	for lr.Next() {
		line := lr.Text()
		switch state {
		case preamble:
			if m := atHeader.FindStringSubmatch(line); m != nil && job.UID < 0 {
				uid, err := strconv.Atoi(m[1])
				if err == nil {
					job.UID = uid
				}
			} else if rest, ok := strings.CutPrefix(line, "# mail "); ok && job.MailUser == "" {
				job.MailUser, _ = nextField(rest)
			} else if strings.HasPrefix(line, "cd ") && strings.HasSuffix(line, "|| {") {
				state = cdBlock
			}
		case cdBlock:
			if line == "}" {
				state = body
			}
		case body, heredoc:
			if state == body && cmd.Len() == 0 && strings.HasPrefix(line, "${SHELL:-/bin/sh} << '") {
				delim = strings.TrimSuffix(strings.TrimPrefix(line, "${SHELL:-/bin/sh} << '"), "'")
				state = heredoc
				continue
			}
			if state == heredoc && line == delim {
				state = done
				break lines
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			if cmd.Len() > 0 {
				cmd.WriteByte('\n')
			}
			cmd.WriteString(line)
			if cmd.Len() >= maxCommand {
				break lines
			}
		}
	}
	if err := lr.Err(); err != nil {
		return nil, err
	}
	if job.UID < 0 {
		return nil, errors.New("no \"# atrun uid=\" header")
	}
	if state < body {
		return nil, errors.New("no command after the \"cd\" preamble")
	}
	job.Command = cmd.String()
	if len(job.Command) > maxCommand {
		job.Command = job.Command[:maxCommand]
	}
	return job, nil
}

// atUser names the user a job runs as: the passwd name of its uid, else
// the name on its "# mail" line, else the number.
func atUser(job *atJob, users map[int]string) string {
	if name, ok := users[job.UID]; ok {
		return name
	}
	if job.MailUser != "" {
		return job.MailUser
	}
	return fmt.Sprint(job.UID)
}
