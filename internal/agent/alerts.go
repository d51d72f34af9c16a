package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/vigilsec/vigil/internal/alert"
)

// AlertWriter appends alerts as JSON lines. Each alert is written with one
// write(2), so a reader tailing the file never sees half a line followed by
// more of the same line later, and synced before Write returns: alerts are
// rare and each one matters more than the cost of an fsync.
type AlertWriter struct {
	mu  sync.Mutex
	f   *os.File
	buf bytes.Buffer
	enc *json.Encoder
}

// OpenAlertWriter opens (creating, 0600) the alerts file for appending.
func OpenAlertWriter(path string) (*AlertWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("alerts file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("alerts file: %w", err)
	}
	w := &AlertWriter{f: f}
	w.enc = json.NewEncoder(&w.buf)
	w.enc.SetEscapeHTML(false)
	return w, nil
}

// Write appends one alert line.
func (w *AlertWriter) Write(a *alert.Alert) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	a.Time = a.Time.UTC()
	if a.Evidence == nil {
		a.Evidence = map[string]any{}
	}
	w.buf.Reset()
	if err := w.enc.Encode(a); err != nil {
		return err
	}
	if _, err := w.f.Write(w.buf.Bytes()); err != nil {
		return err
	}
	return w.f.Sync()
}

// Close closes the file.
func (w *AlertWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}
