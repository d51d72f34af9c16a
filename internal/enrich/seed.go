package enrich

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/procutil"
)

// maxSeedProblems bounds the problems Seed reports.
const maxSeedProblems = 5

// Seed adds every process under procPath to the table, with parent exec
// IDs, so that processes started before the agent have ancestry.
// Processes that exit while they are read are skipped; those that cannot
// be read (permission, malformed files) are skipped and named in the
// returned error, which does not undo the seeding. It returns the number
// of processes added. An error that leaves the table empty means procPath
// could not be listed.
func (t *Table) Seed(procPath string) (int, error) {
	pids, err := procutil.PIDs(procPath)
	if err != nil {
		return 0, fmt.Errorf("seed process table: %w", err)
	}
	r := newProcReader(procPath, t.bootID)
	procs := make([]event.Process, 0, len(pids))
	var problems []error
	skipped := 0
	for _, pid := range pids {
		p, err := r.read(pid)
		if err != nil {
			if procutil.Gone(err) {
				continue
			}
			skipped++
			if len(problems) < maxSeedProblems {
				problems = append(problems, fmt.Errorf("pid %d: %w", pid, err))
			}
			continue
		}
		procs = append(procs, p)
	}
	// A parent starts no later than its child; inserting in start order
	// lets every child find its parent in the table.
	slices.SortStableFunc(procs, func(a, b event.Process) int {
		if a.StartTime != b.StartTime {
			if a.StartTime < b.StartTime {
				return -1
			}
			return 1
		}
		return a.PID - b.PID
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	added := 0
	for i := range procs {
		p := &procs[i]
		if pe := t.byPID[p.PPID]; pe != nil && pe.exited.IsZero() && pe.proc.StartTime <= p.StartTime {
			p.ParentExecID = pe.proc.ExecID
		}
		if t.byExec[p.ExecID] != nil {
			continue // an event got here first
		}
		t.insert(p)
		added++
	}
	t.gen++
	if skipped > 0 {
		return added, fmt.Errorf("seed process table: %d processes unreadable: %w", skipped, errors.Join(problems...))
	}
	return added, nil
}
