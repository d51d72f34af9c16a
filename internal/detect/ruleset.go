package detect

import (
	"fmt"
	"reflect"
)

// AddIOC adds IOC sets to rs; a set of the same name is replaced.
func (rs *RuleSet) AddIOC(sets map[string][]string) {
	rs.init()
	for n, s := range sets {
		rs.IOC[n] = s
	}
}

// Merge adds the files of other to rs (the agent's own rule paths on top
// of the shipped rules). A list both define differently is an error;
// duplicate rule IDs are left for New and Lint to report with both places.
func (rs *RuleSet) Merge(other *RuleSet) error {
	rs.init()
	if other == nil {
		return nil
	}
	for n, l := range other.Lists {
		if prev, ok := rs.Lists[n]; ok && !reflect.DeepEqual(prev, l) {
			return fmt.Errorf("list %q of %s differs from the list of that name in %s", n, other.listFirst[n], rs.listFirst[n])
		}
	}
	for _, f := range other.Files {
		rs.Files = append(rs.Files, f)
		for n, l := range f.Lists {
			if _, ok := rs.Lists[n]; !ok {
				rs.Lists[n], rs.listFirst[n] = l, f.Name
			}
		}
	}
	for n, s := range other.IOC {
		rs.IOC[n] = s
	}
	return nil
}

// RuleIDs lists the IDs of the rules in rs, in load order.
func (rs *RuleSet) RuleIDs() []string {
	var ids []string
	for _, f := range rs.Files {
		for _, r := range f.Rules {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// Disable removes the rules with these IDs from rs, and the test
// expectations that name them, so the remaining tests still hold.
func (rs *RuleSet) Disable(ids ...string) {
	off := map[string]bool{}
	for _, id := range ids {
		off[id] = true
	}
	for _, f := range rs.Files {
		kept := f.Rules[:0]
		for _, r := range f.Rules {
			if !off[r.ID] {
				kept = append(kept, r)
			}
		}
		f.Rules = kept
		for _, t := range f.Tests {
			exp := t.Expect[:0]
			for _, x := range t.Expect {
				if !off[x.Rule] {
					exp = append(exp, x)
				}
			}
			t.Expect = exp
		}
	}
}

// init makes the zero RuleSet usable.
func (rs *RuleSet) init() {
	if rs.Lists == nil {
		rs.Lists = map[string][]string{}
	}
	if rs.IOC == nil {
		rs.IOC = map[string][]string{}
	}
	if rs.listFirst == nil {
		rs.listFirst = map[string]string{}
	}
}
