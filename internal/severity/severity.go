// Package severity is the one severity scale shared by inventory changes,
// findings and alerts.
package severity

import "fmt"

// Level is a severity. The zero value is Unspecified.
type Level int

const (
	Unspecified Level = iota
	Info
	Low
	Medium
	High
	Critical
)

var names = [...]string{"unspecified", "info", "low", "medium", "high", "critical"}

func (l Level) String() string {
	if l >= 0 && int(l) < len(names) {
		return names[l]
	}
	return fmt.Sprintf("severity(%d)", int(l))
}

// MarshalText encodes a Level as its lowercase name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText decodes a lowercase name.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Parse reads a lowercase severity name.
func Parse(s string) (Level, error) {
	for i, n := range names {
		if n == s {
			return Level(i), nil
		}
	}
	return Unspecified, fmt.Errorf("unknown severity %q", s)
}
