package ransom

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

var ne = binary.NativeEndian

// hiddenCandidates is how many hidden names are tried per directory to
// find those readdir returns first.
const hiddenCandidates = 8

// decoyAge is how old decoys look (their mtime).
const decoyAge = 97 * 24 * time.Hour

// createDecoys writes the decoys of every decoy directory; nmu is held.
func (g *Guard) createDecoys() error {
	for _, dir := range g.cfg.DecoyDirs {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("ransom: decoy dir %q: not a directory: %v", dir, err)
		}
		first, last, hidden := decoyNames(dir, hiddenCandidates)
		keep := []string{first, last}
		if g.cfg.HiddenDecoys > 0 {
			// Write every candidate, keep those readdir lists first (and
			// any left by an earlier run), remove the others.
			for _, n := range hidden {
				if err := g.writeDecoy(filepath.Join(dir, n)); err != nil {
					return err
				}
			}
			order, err := readdirOrder(dir)
			if err != nil {
				return err
			}
			var got []string
			for _, n := range order {
				if slices.Contains(hidden, n) && len(got) < g.cfg.HiddenDecoys {
					got = append(got, n)
				}
			}
			for _, n := range hidden {
				if !slices.Contains(got, n) {
					os.Remove(filepath.Join(dir, n))
					g.dmu.Lock()
					delete(g.decoys, filepath.Join(dir, n))
					g.dmu.Unlock()
				}
			}
			keep = append(keep, got...)
		}
		for _, n := range keep {
			p := filepath.Join(dir, n)
			if err := g.writeDecoy(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeDecoy creates or repairs one decoy and records it.
func (g *Guard) writeDecoy(p string) error {
	b, err := DecoyContent(filepath.Base(p))
	if err != nil {
		return fmt.Errorf("ransom: decoy %q: %w", p, err)
	}
	g.dmu.Lock()
	g.decoys[p] = &decoy{path: p, content: b}
	g.dmu.Unlock()
	if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, b) {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(p), ".vigil-decoy.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("ransom: decoy: %w", err)
	}
	t := time.Now().Add(-decoyAge)
	os.Chtimes(tmp, t, t)
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ransom: decoy: %w", err)
	}
	return nil
}

func readdirOrder(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("ransom: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1) // getdents order
	if err != nil {
		return nil, fmt.Errorf("ransom: read %q: %w", dir, err)
	}
	return names, nil
}

// ensureDecoys recreates decoys that are missing or changed and marks
// them again (a new inode needs a new mark). It returns how many it
// repaired.
func (g *Guard) ensureDecoys() int {
	g.dmu.Lock()
	var ds []*decoy
	for _, d := range g.decoys {
		ds = append(ds, d)
	}
	g.dmu.Unlock()
	n := 0
	for _, d := range ds {
		if cur, err := os.ReadFile(d.path); err == nil && bytes.Equal(cur, d.content) {
			continue
		}
		if err := g.writeDecoy(d.path); err != nil {
			g.log.Warn("ransom guard: cannot recreate decoy", "path", d.path, "error", err)
			continue
		}
		if g.permFD >= 0 && !g.closed.Load() {
			if err := g.markDecoy(d.path); err != nil {
				g.log.Warn("ransom guard: cannot mark decoy", "path", d.path, "error", err)
			}
		}
		n++
	}
	return n
}

// removeDecoys deletes the decoys that still hold decoy content.
func (g *Guard) removeDecoys() {
	g.dmu.Lock()
	defer g.dmu.Unlock()
	for p, d := range g.decoys {
		if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, d.content) {
			os.Remove(p)
		}
	}
	clear(g.decoys)
}

func (g *Guard) decoyLoop() {
	defer g.wg.Done()
	t := time.NewTicker(g.cfg.DecoyCheck)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			if n := g.ensureDecoys(); n > 0 {
				g.st.decoysRestored.Add(uint64(n))
				g.log.Warn("ransom guard: recreated decoys", "count", n)
			}
		}
	}
}
