// Package accounts collects the host's users, groups and recent logins
// from passwd, group, shadow, sudoers (or doas.conf), authorized_keys,
// wtmp and lastlog under the inventory root.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/etcfiles"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/textio"
)

// Name is the collector's name.
const Name = inventory.CategoryAccounts

// Paths read, as they appear inside the root.
const (
	passwdPath  = "/etc/passwd"
	groupPath   = "/etc/group"
	shadowPath  = "/etc/shadow"
	sudoersPath = "/etc/sudoers"
	doasPath    = "/etc/doas.conf"
	doasDir     = "/etc/doas.d"
	wtmpPath    = "/var/log/wtmp"
	lastlogPath = "/var/log/lastlog"
)

// maxLogins is how many wtmp logins Accounts.Logins keeps.
const maxLogins = 50

type accounts struct{}

// New returns the accounts collector.
func New() collector.Collector { return accounts{} }

func (accounts) Name() string                       { return Name }
func (accounts) Version() int                       { return 1 }
func (accounts) Requirements() *plugin.Capabilities { return &plugin.Capabilities{Root: true} }

// Collect reads the account databases under in.Root. It skips a root
// without /etc/passwd; an unreadable /etc/shadow makes the run partial,
// with every password state "unknown".
func (accounts) Collect(ctx context.Context, in *collector.Input) (*inventory.Inventory, error) {
	var problems plugin.Problems
	fsys := in.Root

	var pw []etcfiles.PasswdEntry
	err := withFile(fsys, passwdPath, func(r io.Reader) error {
		entries, lineErrs, err := etcfiles.ParsePasswd(r)
		pw = entries
		addLineErrs(&problems, passwdPath, lineErrs)
		return err
	})
	if isNotExist(err) {
		return nil, plugin.Skip("no %s in the root", passwdPath)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", passwdPath, err)
	}

	var groups []etcfiles.GroupEntry
	err = withFile(fsys, groupPath, func(r io.Reader) error {
		entries, lineErrs, err := etcfiles.ParseGroup(r)
		groups = entries
		addLineErrs(&problems, groupPath, lineErrs)
		return err
	})
	if err != nil {
		problems.Addf("read %s: %v", groupPath, err)
	}

	shadow := map[string]*etcfiles.ShadowEntry{}
	err = withFile(fsys, shadowPath, func(r io.Reader) error {
		entries, lineErrs, err := etcfiles.ParseShadow(r)
		for i := range entries {
			if _, dup := shadow[entries[i].Name]; !dup {
				shadow[entries[i].Name] = &entries[i]
			}
		}
		addLineErrs(&problems, shadowPath, lineErrs)
		return err
	})
	if err != nil && !isNotExist(err) {
		problems.Addf("read %s: %v (password states are unknown)", shadowPath, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	acc := &inventory.Accounts{Users: make([]inventory.User, 0, len(pw)), Groups: make([]inventory.Group, 0, len(groups))}
	gidName := make(map[int]string, len(groups))
	supp := map[string][]*etcfiles.GroupEntry{}
	for i := range groups {
		g := &groups[i]
		acc.Groups = append(acc.Groups, inventory.Group{Name: g.Name, GID: g.GID, Members: g.Members})
		if _, dup := gidName[g.GID]; !dup {
			gidName[g.GID] = g.Name
		}
		for _, m := range g.Members {
			if !slices.Contains(supp[m], g) {
				supp[m] = append(supp[m], g)
			}
		}
	}

	sudo := loadSudoers(ctx, fsys, &problems)
	doas := loadDoas(fsys, &problems)
	keysFiles := authorizedKeysFiles(fsys, &problems)
	keyCache := map[string][]inventory.AuthorizedKey{}

	for i := range pw {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := &pw[i]
		u := inventory.User{
			Name: e.Name, UID: e.UID, GID: e.GID, Gecos: e.Gecos, Home: e.Home, Shell: e.Shell,
			InteractiveShell: interactiveShell(e.Shell),
			Privileged:       e.UID == 0,
			PasswordState:    PasswordUnknown,
			AuthorizedKeys:   []inventory.AuthorizedKey{},
		}
		su := &sudoUser{name: e.Name, uid: e.UID, groups: map[string]bool{}, gids: map[int]bool{e.GID: true}}
		if n, ok := gidName[e.GID]; ok {
			su.groups[n] = true
		}
		for _, g := range supp[e.Name] {
			u.Groups = append(u.Groups, g.Name)
			su.groups[g.Name] = true
			su.gids[g.GID] = true
		}

		if s, ok := shadow[e.Name]; ok {
			u.PasswordState, u.PasswordScheme = PasswordState(s.Hash)
			u.PasswordLastChange, u.PasswordMaxDays = shadowDates(s)
		} else if e.Password != "x" {
			// No shadow entry: the passwd field itself is the hash.
			u.PasswordState, u.PasswordScheme = PasswordState(e.Password)
		}

		rules, grants := sudo.forUser(su)
		drules, dgrants := doas.forUser(su)
		u.SudoRules = append(rules, drules...)
		u.Sudo = grants || dgrants

		for _, pat := range keysFiles {
			p, err := expandKeysFile(pat, e.Home, e.Name, e.UID)
			if err != nil {
				problems.Addf("%s: %v", sshdConfig, err)
				continue
			}
			if !strings.HasPrefix(p, "/") {
				continue // no home directory
			}
			p = path.Clean(p)
			keys, seen := keyCache[p]
			if !seen {
				keys = readAuthorizedKeys(fsys, p, &problems)
				keyCache[p] = keys
			}
			u.AuthorizedKeys = append(u.AuthorizedKeys, keys...)
		}
		acc.Users = append(acc.Users, u)
	}

	readLogins(ctx, fsys, acc, &problems)
	return &inventory.Inventory{Accounts: acc}, problems.Err()
}

// withFile opens name inside fsys and hands it to fn.
func withFile(fsys fs.FS, name string, fn func(io.Reader) error) error {
	f, err := fsys.Open(unrooted(name))
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(f)
}

func addLineErrs(problems *plugin.Problems, file string, errs []*textio.LineError) {
	for _, e := range errs {
		problems.Add(errorsWithFile(file, e))
	}
}

// errorsWithFile names a line error's file: "/etc/passwd:3: ...".
func errorsWithFile(file string, e *textio.LineError) error {
	return fmt.Errorf("%s:%d: %w", file, e.Line, e.Err)
}

// isNotExist reports a missing file, including a path through a
// non-directory (a home of /dev/null).
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// readAuthorizedKeys reads one authorized_keys file; a missing file has
// no keys.
func readAuthorizedKeys(fsys fs.FS, p string, problems *plugin.Problems) []inventory.AuthorizedKey {
	var out []inventory.AuthorizedKey
	err := withFile(fsys, p, func(r io.Reader) error {
		keys, lineErrs, err := ParseAuthorizedKeys(r)
		for _, k := range keys {
			out = append(out, inventory.AuthorizedKey{
				Type: k.Type, Fingerprint: k.Fingerprint, Comment: k.Comment,
				Options: k.Options, File: p, Line: k.Line,
			})
		}
		addLineErrs(problems, p, lineErrs)
		return err
	})
	if err != nil && !isNotExist(err) {
		problems.Addf("read %s: %v", p, err)
	}
	return out
}

// maxIncludeDepth bounds sudoers include nesting, as sudo does.
const maxIncludeDepth = 128

// loadSudoers reads /etc/sudoers and everything it includes.
func loadSudoers(ctx context.Context, fsys fs.FS, problems *plugin.Problems) *sudoPolicy {
	pol := &sudoPolicy{aliases: map[string][]ListItem{}}
	visiting := map[string]bool{}
	var visit func(name string, depth int, mustExist bool)
	visit = func(name string, depth int, mustExist bool) {
		if ctx.Err() != nil {
			return
		}
		if visiting[name] || depth > maxIncludeDepth {
			problems.Addf("%s: include loop or nesting too deep", name)
			return
		}
		var s *Sudoers
		err := withFile(fsys, name, func(r io.Reader) error {
			var lineErrs []*textio.LineError
			var err error
			s, lineErrs, err = ParseSudoers(r)
			addLineErrs(problems, name, lineErrs)
			return err
		})
		if err != nil {
			if mustExist || !isNotExist(err) {
				problems.Addf("read %s: %v", name, err)
			}
			if s == nil {
				return
			}
		}
		visiting[name] = true
		defer delete(visiting, name)
		for _, a := range s.UserAliases {
			pol.aliases[a.Name] = a.Members
		}
		// Rules and includes in file order.
		ri, ii := 0, 0
		for ri < len(s.Rules) || ii < len(s.Includes) {
			if ii == len(s.Includes) || ri < len(s.Rules) && s.Rules[ri].Line < s.Includes[ii].Line {
				r := &s.Rules[ri]
				pol.rules = append(pol.rules, policyRule{
					source: fmt.Sprintf("%s:%d: %s", name, r.Line, r.Text), users: r.Users, grants: r.Grants,
				})
				ri++
				continue
			}
			inc := s.Includes[ii]
			ii++
			p := inc.Path
			if !strings.HasPrefix(p, "/") {
				p = path.Join(path.Dir(name), p)
			}
			p = path.Clean(p)
			if !inc.Dir {
				visit(p, depth+1, true)
				continue
			}
			entries, err := fs.ReadDir(fsys, unrooted(p))
			if err != nil {
				if !isNotExist(err) {
					problems.Addf("read %s: %v", p, err)
				}
				continue
			}
			for _, de := range entries {
				// sudo skips names ending in '~' or containing '.'
				// (editor backups, package manager leftovers).
				n := de.Name()
				if strings.HasSuffix(n, "~") || strings.Contains(n, ".") || de.IsDir() {
					continue
				}
				visit(path.Join(p, n), depth+1, false)
			}
		}
	}
	visit(sudoersPath, 0, false)
	return pol
}

// loadDoas reads /etc/doas.conf and then /etc/doas.d/*.conf (Alpine).
func loadDoas(fsys fs.FS, problems *plugin.Problems) *doasPolicy {
	pol := &doasPolicy{}
	files := []string{doasPath}
	if entries, err := fs.ReadDir(fsys, unrooted(doasDir)); err == nil {
		for _, de := range entries {
			if strings.HasSuffix(de.Name(), ".conf") && !de.IsDir() {
				files = append(files, path.Join(doasDir, de.Name()))
			}
		}
	} else if !isNotExist(err) {
		problems.Addf("read %s: %v", doasDir, err)
	}
	for _, name := range files {
		err := withFile(fsys, name, func(r io.Reader) error {
			rules, lineErrs, err := ParseDoas(r)
			for _, rule := range rules {
				pol.rules = append(pol.rules, rule)
				pol.sources = append(pol.sources, fmt.Sprintf("%s:%d: %s", name, rule.Line, rule.Text))
			}
			addLineErrs(problems, name, lineErrs)
			return err
		})
		if err != nil && !isNotExist(err) {
			problems.Addf("read %s: %v", name, err)
		}
	}
	return pol
}

// readLogins fills acc.Logins from wtmp and each user's LastLogin from the
// newer of wtmp and lastlog.
func readLogins(ctx context.Context, fsys fs.FS, acc *inventory.Accounts, problems *plugin.Problems) {
	names := make(map[string]bool, len(acc.Users))
	for _, u := range acc.Users {
		names[u.Name] = true
	}
	var wt *wtmpResult
	err := withFile(fsys, wtmpPath, func(r io.Reader) error {
		var err error
		wt, err = readWtmp(r, maxLogins, func(n string) bool { return names[n] }, func(rec int, err error) {
			problems.Addf("%s: record %d: %v", wtmpPath, rec, err)
		})
		return err
	})
	if err != nil && !isNotExist(err) {
		problems.Addf("read %s: %v", wtmpPath, err)
	}
	if wt != nil {
		acc.Logins = newestFirst(wt.recent)
		for i := range acc.Users {
			if l, ok := wt.last[acc.Users[i].Name]; ok {
				acc.Users[i].LastLogin = &l
			}
		}
	}

	f, err := fsys.Open(unrooted(lastlogPath))
	if err != nil {
		if !isNotExist(err) {
			problems.Addf("read %s: %v", lastlogPath, err)
		}
		return
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		problems.Addf("read %s: file does not support random access", lastlogPath)
		return
	}
	for i := range acc.Users {
		if ctx.Err() != nil {
			return
		}
		u := &acc.Users[i]
		t, line, host, ok, err := lastlogAt(ra, u.UID)
		if err != nil {
			problems.Addf("read %s: uid %d: %v", lastlogPath, u.UID, err)
			return
		}
		if ok && (u.LastLogin == nil || t.After(u.LastLogin.Time)) {
			u.LastLogin = &inventory.Login{User: u.Name, TTY: line, Host: host, Time: t, Source: "lastlog"}
		}
	}
}
