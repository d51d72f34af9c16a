// Package login judges authentication records: it turns authlog records
// into the runtime engine's auth events (Convert), and keeps a per-account
// baseline of where and when each account logs in, raising VGL-LOGIN-*
// alerts for logins that break it (Analyzer): a new country or network
// for the account, impossible travel between two logins, logins outside
// the configured locations, networks, hours or accounts.
//
// Brute force, user enumeration, spraying and "brute force succeeded"
// are rules (rules/auth.yaml) the engine runs over the converted events.
package login

import (
	"github.com/vigilsec/vigil/internal/authlog"
	"github.com/vigilsec/vigil/internal/event"
)

// Outcomes of converted events (event.AuthInfo.Outcome).
const (
	// OutcomeSuccess is an accepted login or a successful su/sudo.
	OutcomeSuccess = "success"
	// OutcomeFailure is one failed attempt (or Count of them): a wrong
	// password or key ("Failed password …", also for an invalid user), a
	// failed su or sudo, a btmp record. Rules count these.
	OutcomeFailure = "failure"
	// OutcomeInfo is any other record: the "Invalid user" and "maximum
	// authentication attempts" notices (which accompany attempts the
	// service logs as failures of their own, so counting them would count
	// twice; auth.invalid_user and auth.detail still say what they are),
	// PAM's own failure reports (likewise duplicates), pre-authentication
	// disconnects, protocol errors, sessions.
	OutcomeInfo = "info"
)

// Convert turns an authlog record into an auth event for the engine.
// Times stay those of the record, so aggregation windows follow the log,
// not the clock. A record standing for N attempts ("message repeated N
// times") carries Count N, which the shipped rules use as their aggregate
// weight.
func Convert(r authlog.Event) event.Event {
	var ev event.Event
	convertInto(&ev, &event.AuthInfo{}, &r)
	return ev
}

// convertInto is Convert writing into dst and ai (which become dst.Auth),
// overwriting all of both.
func convertInto(dst *event.Event, ai *event.AuthInfo, r *authlog.Event) {
	out := OutcomeInfo
	switch {
	case r.Kind == authlog.KindFailure:
		out = OutcomeFailure
	case r.Kind == authlog.KindSuccess:
		out = OutcomeSuccess
	}
	count := r.Count
	if count < 1 {
		count = 1
	}
	*ai = event.AuthInfo{
		Service: r.Service,
		Outcome: out,
		Method:  r.Method,
		User:    r.User,
		SrcPort: r.Port,
		Invalid: r.InvalidUser || r.Kind == authlog.KindInvalidUser,
		Message: r.Raw,
		Detail:  string(r.Kind),
		Count:   count,
		TTY:     r.TTY,
		ByUser:  r.ByUser,
	}
	if r.SourceIP.IsValid() {
		ai.SrcIP = r.SourceIP.Unmap().String()
	}
	*dst = event.Event{
		Kind:    event.Auth,
		Time:    r.Time,
		Source:  "authlog",
		Host:    r.Host,
		Process: event.Process{PID: r.PID, Name: r.Service, TTY: r.TTY, User: r.ByUser},
		Auth:    ai,
	}
}
