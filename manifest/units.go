package manifest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Size is a number of bytes. In YAML it is a byte count (1048576) or a number and a unit: "64KiB",
// "16MiB", "1GiB" (powers of 1024; also Ki, Mi, Gi, Ti), "4MB" (kB/KB, MB, GB, TB: powers of 1000), "512B".
type Size int64

var sizeUnits = []struct {
	name string
	mult int64
}{
	{"B", 1},
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
}

const sizeHint = "use e.g. 64MiB, 4MB or a byte count like 1048576"

var errTooLarge = errors.New("too large")

// ParseSize reads a size as written in a manifest. Units are case-sensitive ("mb" is refused: MB is
// 10^6 bytes, MiB 2^20). A fraction is allowed ("1.5GiB") and rounded down to whole bytes. The error
// says how to write the size.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	if strings.Trim(num, ".") == "" || strings.Count(num, ".") > 1 {
		return 0, errors.New(sizeHint)
	}
	mult := int64(0)
	if unit == "" {
		mult = 1
	}
	for _, u := range sizeUnits {
		if unit == u.name {
			mult = u.mult
			break
		}
	}
	if mult == 0 {
		for _, u := range sizeUnits {
			if strings.EqualFold(unit, u.name) {
				return 0, fmt.Errorf("units are case-sensitive: did you mean %s%s?", num, u.name)
			}
		}
		return 0, fmt.Errorf("unknown unit %q; %s", unit, sizeHint)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, errTooLarge
		}
		return Size(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, errors.New(sizeHint)
	}
	v := f * float64(mult)
	if v >= math.MaxInt64 {
		return 0, errTooLarge
	}
	return Size(v), nil
}

// String writes s with the largest binary unit that divides it ("64MiB"), else in bytes ("1500B").
func (s Size) String() string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// UnmarshalYAML reads a Size from a YAML scalar.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size must be a single value; %s", n.Line, sizeHint)
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %s", n.Line, sizeMsg(n.Value, err))
	}
	*s = v
	return nil
}

// Duration is a time.Duration that YAML writes as "500ms", "10s" or "1m30s".
type Duration time.Duration

const durationHint = "use e.g. 500ms, 10s"

// ParseDuration reads a duration as written in a manifest: a Go duration with a unit ("1m30s"). A bare
// number is refused. The error says how to write the duration.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	d, err := time.ParseDuration(t)
	if err != nil {
		if _, nerr := strconv.ParseFloat(t, 64); nerr == nil {
			return 0, fmt.Errorf("add a unit, e.g. %ss or %sms", t, t)
		}
		return 0, errors.New(durationHint)
	}
	return Duration(d), nil
}

// sizeMsg and durationMsg phrase a ParseSize or ParseDuration error about the value v.
func sizeMsg(v string, err error) string {
	if err == errTooLarge {
		return fmt.Sprintf("%q is too large", v)
	}
	return fmt.Sprintf("%q is not a size; %v", v, err)
}

func durationMsg(v string, err error) string {
	return fmt.Sprintf("%q is not a duration; %v", v, err)
}

// String writes d as time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a Duration from a YAML scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a single value; %s", n.Line, durationHint)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %s", n.Line, durationMsg(n.Value, err))
	}
	*d = v
	return nil
}
