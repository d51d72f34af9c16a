// Package plugin holds what every Vigil plugin kind shares: its identity, the
// capabilities it needs, and the status a runner records after running it.
//
// Collectors, extractors, checks and sensors all embed Plugin and add one or
// two methods of their own (see STYLE.md §2).
package plugin

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Plugin is the core every plugin kind embeds.
type Plugin interface {
	// Name is a stable identifier such as "accounts" or "os/dpkg". It is
	// used on the command line, in status maps and in documentation.
	Name() string
	// Version is bumped whenever the plugin's output changes.
	Version() int
	// Requirements says what the plugin needs to produce full results.
	Requirements() *Capabilities
}

// Capabilities lists what a plugin needs from the machine it runs on.
type Capabilities struct {
	// Root: the plugin needs to run as root for complete results
	// (for example to read /etc/shadow or other users' /proc entries).
	Root bool
	// RunningHost: the plugin reads live state (procfs, netlink, sockets)
	// and has nothing to say about an offline root tree.
	RunningHost bool
	// Network: the plugin talks to a local daemon over a socket.
	Network bool
	// BPF: the plugin loads eBPF programs.
	BPF bool
}

// State is the outcome of running one plugin.
type State int

const (
	StateUnspecified State = iota
	// StateSucceeded: the plugin read every source it looked for.
	StateSucceeded
	// StatePartial: some records or sources could not be read; the rest
	// were reported.
	StatePartial
	// StateFailed: the plugin produced nothing usable.
	StateFailed
	// StateSkipped: the plugin does not apply here (no Docker socket, no
	// procfs for an offline root).
	StateSkipped
)

var stateNames = [...]string{"unspecified", "succeeded", "partial", "failed", "skipped"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// MarshalText encodes a State as its lowercase name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a lowercase state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown plugin state %q", b)
}

// Status is what a runner records for one plugin run.
type Status struct {
	State State `json:"state"`
	// Error is the reason for a failed, partial or skipped run.
	Error string `json:"error,omitempty"`
	// Problems lists individual records or sources that could not be
	// read in a partial run, each naming what and where.
	Problems []string `json:"problems,omitempty"`
}

// ErrSkipped is wrapped by errors that mean "this plugin does not apply
// here"; StatusFromErr turns them into StateSkipped.
var ErrSkipped = errors.New("skipped")

// Skip returns an error wrapping ErrSkipped with a reason for the user.
func Skip(format string, args ...any) error {
	return &skipError{reason: fmt.Sprintf(format, args...)}
}

type skipError struct{ reason string }

func (e *skipError) Error() string        { return e.reason }
func (e *skipError) Is(target error) bool { return target == ErrSkipped }

// PartialError collects per-record problems. A plugin returns it (via
// Problems.Err) together with the records it could read.
type PartialError struct {
	Problems []string
}

func (e *PartialError) Error() string {
	switch len(e.Problems) {
	case 0:
		return "no problems"
	case 1:
		return e.Problems[0]
	}
	return fmt.Sprintf("%s (and %d more problems)", e.Problems[0], len(e.Problems)-1)
}

// Problems accumulates per-record errors while a plugin reads its sources.
// The zero value is ready to use.
type Problems struct {
	list []string
}

// maxProblems bounds how many per-record messages are kept, so one
// hostile file cannot grow a report without bound.
const maxProblems = 100

// Add records a problem; nil errors are ignored.
func (p *Problems) Add(err error) {
	if err == nil {
		return
	}
	if len(p.list) == maxProblems {
		p.list = append(p.list, "further problems omitted")
	}
	if len(p.list) > maxProblems {
		return
	}
	p.list = append(p.list, err.Error())
}

// Addf records a formatted problem.
func (p *Problems) Addf(format string, args ...any) { p.Add(fmt.Errorf(format, args...)) }

// Len reports the number of problems recorded.
func (p *Problems) Len() int { return len(p.list) }

// Err returns a *PartialError when problems were recorded, else nil.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &PartialError{Problems: append([]string(nil), p.list...)}
}

// StatusFromErr turns a plugin's returned error into a Status.
func StatusFromErr(err error) Status {
	if err == nil {
		return Status{State: StateSucceeded}
	}
	var pe *PartialError
	if errors.As(err, &pe) {
		return Status{State: StatePartial, Error: pe.Error(), Problems: pe.Problems}
	}
	if errors.Is(err, ErrSkipped) {
		return Status{State: StateSkipped, Error: err.Error()}
	}
	return Status{State: StateFailed, Error: err.Error()}
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)*$`)

// ValidateName reports whether name is a valid plugin name: lowercase
// words of [a-z0-9_] separated by slashes.
func ValidateName(name string) error {
	if !validName.MatchString(name) || strings.Contains(name, "//") {
		return fmt.Errorf("invalid plugin name %q", name)
	}
	return nil
}
