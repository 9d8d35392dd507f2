package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Size is a byte count given as 1048576, 64KiB, 16MiB, 1GiB (or KB/MB/GB, read as powers of 1000).
type Size int64

// Decode implements envconfig.Decoder.
func (s *Size) Decode(v string) error { return s.Set(v) }

// Set implements flag.Value.
func (s *Size) Set(v string) error {
	t := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size; use a positive number of bytes or e.g. 64KiB, 16MiB, 1GiB", v)
	}
	*s = Size(n * mult)
	return nil
}

func (s *Size) String() string {
	switch n := int64(*s); {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	default:
		return strconv.FormatInt(n, 10)
	}
}

// Duration is a time.Duration flag that names the flag's expected form in its error.
type Duration time.Duration

// Decode implements envconfig.Decoder.
func (d *Duration) Decode(v string) error { return d.Set(v) }

// Set implements flag.Value.
func (d *Duration) Set(v string) error {
	x, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || x < 0 {
		return fmt.Errorf("%q is not a duration; use e.g. 500ms, 10s, 2m (0 for none)", v)
	}
	*d = Duration(x)
	return nil
}

func (d *Duration) String() string { return time.Duration(*d).String() }

// OptDuration is a flag that may be given alone (--wait-for-sidecar, meaning its default) or with a
// duration (--wait-for-sidecar=30s); 0 means off.
type OptDuration struct {
	D       time.Duration
	Default time.Duration
}

// IsBoolFlag lets the flag stand alone.
func (o *OptDuration) IsBoolFlag() bool { return true }

// Decode implements envconfig.Decoder.
func (o *OptDuration) Decode(v string) error { return o.Set(v) }

// Set implements flag.Value.
func (o *OptDuration) Set(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on":
		o.D = o.Default
		return nil
	case "false", "no", "off", "0", "":
		o.D = 0
		return nil
	}
	x, err := time.ParseDuration(v)
	if err != nil || x < 0 {
		return fmt.Errorf("%q is not a duration; use it alone, or e.g. =30s", v)
	}
	o.D = x
	return nil
}

func (o *OptDuration) String() string {
	if o == nil || o.D == 0 {
		return "off"
	}
	return o.D.String()
}

// List is a repeatable flag. Values from the environment (a comma list) are replaced, not extended, by
// the first flag given, so the command line always wins.
type List struct {
	Values  []string
	fromEnv bool
}

// Decode implements envconfig.Decoder: a comma-separated list.
func (l *List) Decode(v string) error {
	l.Values = nil
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			l.Values = append(l.Values, p)
		}
	}
	l.fromEnv = true
	return nil
}

// Set implements flag.Value.
func (l *List) Set(v string) error {
	if l.fromEnv {
		l.Values, l.fromEnv = nil, false
	}
	l.Values = append(l.Values, v)
	return nil
}

func (l *List) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.Values, ",")
}
