package enrich

import (
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/vigilsec/vigil/internal/procutil"
)

// userCheckEvery is how often the passwd file is stat'ed for a change.
const userCheckEvery = time.Second

// users names uids from a passwd file, reloading it when its mtime,
// ctime or size change. It is used under Table.mu.
type users struct {
	path    string
	names   procutil.Users
	key     [3]int64 // mtime, ctime (ns) and size of the loaded file
	checked time.Time
	// numeric caches decimal names of unknown uids, so an unnamed uid
	// does not cost an allocation per event. Bounded by maxNumeric.
	numeric map[uint32]string
}

const maxNumeric = 1024

func newUsers(path string) *users {
	return &users{path: path, numeric: make(map[uint32]string)}
}

// refresh reloads the file when it changed; it stats at most once per
// userCheckEvery. It reports whether the names changed.
func (u *users) refresh(now time.Time) bool {
	if !u.checked.IsZero() && now.Sub(u.checked) < userCheckEvery && now.After(u.checked) {
		return false
	}
	u.checked = now
	var key [3]int64
	f, err := os.Open(u.path)
	if err != nil {
		if u.names == nil && u.key == key {
			return false
		}
		u.names, u.key = nil, key
		return true
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			key = [3]int64{st.Mtim.Nano(), st.Ctim.Nano(), st.Size}
		}
	}
	if key == u.key && u.names != nil {
		return false
	}
	names, _, err := procutil.ParsePasswd(f)
	if err != nil {
		return false // keep the names we have; try again next time
	}
	u.names, u.key = names, key
	return true
}

// name returns the user name of uid, or uid in decimal when passwd does
// not name it.
func (u *users) name(uid uint32) string {
	if n, ok := u.names[int(uid)]; ok {
		return n
	}
	if n, ok := u.numeric[uid]; ok {
		return n
	}
	n := strconv.FormatUint(uint64(uid), 10)
	if len(u.numeric) < maxNumeric {
		u.numeric[uid] = n
	}
	return n
}
