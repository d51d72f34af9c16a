package web

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

type routeFunc = func(pat string, h func(w http.ResponseWriter, r *http.Request, p *principal) error)

// settingsRoutes registers the settings pages.
func (s *server) settingsRoutes(read, analyst, admin routeFunc) {
	read("GET /settings", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		to := "/settings/rules"
		if p.can(store.RoleAdmin) {
			to = "/settings/users"
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	})

	// Users.
	usersPage := func(w http.ResponseWriter, r *http.Request, p *principal, code int, errMsg string) error {
		us, err := s.st.ListUsers(r.Context())
		if err != nil {
			return err
		}
		s.render(w, r, code, p, "users", "", "Users", map[string]any{"Users": us, "Error": errMsg,
			"Roles": []store.Role{store.RoleAdmin, store.RoleAnalyst, store.RoleReadOnly}})
		return nil
	}
	admin("GET /settings/users", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return usersPage(w, r, p, 200, "")
	})
	admin("POST /settings/users", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		_, err := s.createUser(r.Context(), p, userInput{Username: strings.TrimSpace(r.PostFormValue("username")),
			Password: r.PostFormValue("password"), Role: r.PostFormValue("role")})
		if err != nil {
			return err
		}
		back(w, r, "/settings/users", "saved")
		return nil
	})
	admin("POST /settings/users/{name}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		in := userInput{Role: r.PostFormValue("role"), Password: r.PostFormValue("password")}
		if r.PostForm.Has("disabled") {
			d := r.PostFormValue("disabled") == "true"
			in.Disabled = &d
		}
		if _, err := s.updateUser(r.Context(), p, r.PathValue("name"), in); err != nil {
			return err
		}
		back(w, r, "/settings/users", "saved")
		return nil
	})
	admin("POST /settings/users/{name}/delete", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if err := s.deleteUser(r.Context(), p, r.PathValue("name")); err != nil {
			return err
		}
		back(w, r, "/settings/users", "deleted")
		return nil
	})

	// Enrolment tokens.
	enrolPage := func(w http.ResponseWriter, r *http.Request, p *principal, code int, shown string) error {
		ts, err := s.st.ListEnrolTokens(r.Context())
		if err != nil {
			return err
		}
		s.render(w, r, code, p, "enrol", "", "Enrolment tokens", map[string]any{"Tokens": ts, "Shown": shown, "Now": s.now()})
		return nil
	}
	admin("GET /settings/enrol", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return enrolPage(w, r, p, 200, "")
	})
	admin("POST /settings/enrol", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		hours, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("valid_hours")))
		if err != nil {
			return errorf(http.StatusBadRequest, "validity must be a number of hours")
		}
		display, _, err := s.createEnrolToken(r.Context(), p, r.PostFormValue("name"), time.Duration(hours)*time.Hour)
		if err != nil {
			return err
		}
		return enrolPage(w, r, p, 201, display) // shown once, never stored
	})
	admin("POST /settings/enrol/{id}/delete", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if err := s.deleteEnrolToken(r.Context(), p, r.PathValue("id")); err != nil {
			return err
		}
		back(w, r, "/settings/enrol", "deleted")
		return nil
	})

	// API tokens.
	tokensPage := func(w http.ResponseWriter, r *http.Request, p *principal, code int, shown string) error {
		ts, err := s.st.ListAPITokens(r.Context(), "")
		if err != nil {
			return err
		}
		us, err := s.st.ListUsers(r.Context())
		if err != nil {
			return err
		}
		s.render(w, r, code, p, "tokens", "", "API tokens", map[string]any{"Tokens": ts, "Users": us, "Shown": shown})
		return nil
	}
	admin("GET /settings/tokens", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return tokensPage(w, r, p, 200, "")
	})
	admin("POST /settings/tokens", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		secret, _, err := s.createAPIToken(r.Context(), p, r.PostFormValue("username"), r.PostFormValue("name"))
		if err != nil {
			return err
		}
		return tokensPage(w, r, p, 201, secret)
	})
	admin("POST /settings/tokens/{id}/delete", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if err := s.deleteAPIToken(r.Context(), p, r.PathValue("id")); err != nil {
			return err
		}
		back(w, r, "/settings/tokens", "deleted")
		return nil
	})

	// Notifications.
	admin("GET /settings/notifications", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		n, err := s.notifications(r.Context())
		if err != nil {
			return err
		}
		s.render(w, r, 200, p, "notifications", "", "Notifications", map[string]any{"N": n.redacted(),
			"Severities": []string{"", "info", "low", "medium", "high", "critical"}})
		return nil
	})
	admin("POST /settings/notifications", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var n Notifications
		n.Webhook.URL = strings.TrimSpace(r.PostFormValue("webhook_url"))
		n.Webhook.Secret = r.PostFormValue("webhook_secret")
		n.Webhook.SecretSet = r.PostFormValue("keep_secret") == "on"
		n.Webhook.Batch = r.PostFormValue("webhook_batch") == "on"
		n.Syslog.Addr = strings.TrimSpace(r.PostFormValue("syslog_addr"))
		n.Syslog.TLS = r.PostFormValue("syslog_tls") == "on"
		n.Kafka.Brokers = splitList(r.PostFormValue("kafka_brokers"))
		n.Kafka.Topic = strings.TrimSpace(r.PostFormValue("kafka_topic"))
		n.MinSeverity = r.PostFormValue("min_severity")
		if err := s.putNotifications(r.Context(), p, n); err != nil {
			return err
		}
		back(w, r, "/settings/notifications", "saved")
		return nil
	})

	// Rules: the allow-list made from alerts.
	read("GET /settings/rules", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		al, err := s.allowList(r.Context())
		if err != nil {
			return err
		}
		s.render(w, r, 200, p, "rules", "", "Rules", map[string]any{"Entries": al.Entries})
		return nil
	})
	analyst("POST /settings/rules/{id}/delete", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if err := s.removeAllow(r.Context(), p, r.PathValue("id")); err != nil {
			return err
		}
		back(w, r, "/settings/rules", "deleted")
		return nil
	})
}

// serveMetrics writes Prometheus text-format metrics.
func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.pubMetric {
		p, err := s.authenticate(r)
		if err != nil {
			s.apiError(w, err)
			return
		}
		if p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			s.apiError(w, errorf(http.StatusUnauthorized, "authentication required"))
			return
		}
	}
	ctx := r.Context()
	fl, err := s.scanFleet(ctx)
	if err != nil {
		s.apiError(w, err)
		return
	}
	st, err := s.openAlertCounts(ctx)
	if err != nil {
		s.apiError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	writeMetrics(w, fl, st)
	if s.metrics != nil {
		s.metrics(w)
	}
}

func writeMetrics(w io.Writer, fl fleet, st openCounts) {
	fmt.Fprintln(w, "# HELP vigil_hosts Enrolled hosts by agent state.")
	fmt.Fprintln(w, "# TYPE vigil_hosts gauge")
	for _, x := range []struct {
		state string
		n     int
	}{{"online", fl.Online}, {"offline", fl.Offline}, {"never_seen", fl.NeverSeen}, {"revoked", fl.Revoked}} {
		fmt.Fprintf(w, "vigil_hosts{state=%q} %d\n", x.state, x.n)
	}
	fmt.Fprintln(w, "# HELP vigil_agents_online Agents connected now.")
	fmt.Fprintln(w, "# TYPE vigil_agents_online gauge")
	fmt.Fprintf(w, "vigil_agents_online %d\n", fl.Online)
	fmt.Fprintln(w, "# HELP vigil_alerts_open Open alerts by severity.")
	fmt.Fprintln(w, "# TYPE vigil_alerts_open gauge")
	for l := severity.Info; l <= severity.Critical; l++ {
		fmt.Fprintf(w, "vigil_alerts_open{severity=%q} %d\n", l.String(), st.BySeverity[l])
	}
}
