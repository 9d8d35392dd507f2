package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// LogConfig is shared by every command.
type LogConfig struct {
	Level  string `envconfig:"LOG_LEVEL" default:"info"`
	Format string `envconfig:"LOG_FORMAT"`
	Output string `envconfig:"LOG_OUTPUT" default:"stderr"`
	// Interleave lets host logs and the guest's output share a stream while the guest runs.
	Interleave bool `envconfig:"LOG_INTERLEAVE"`
}

func (c *LogConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Level, "log-level", c.Level, "debug, info, warn or error [WASI_DAPR_LOG_LEVEL]")
	fs.StringVar(&c.Format, "log-format", c.Format, "json or console (console on a terminal) [WASI_DAPR_LOG_FORMAT]")
	fs.StringVar(&c.Output, "log-output", c.Output, "stderr, stdout or a file; on a stream a run-mode guest shares, host logs wait until the guest ends [WASI_DAPR_LOG_OUTPUT]")
	fs.BoolVar(&c.Interleave, "log-interleave", c.Interleave, "run: write host logs at once even on a stream the guest shares [WASI_DAPR_LOG_INTERLEAVE]")
}

// heldWriter keeps host log lines back while a guest that shares the stream is running, so the
// guest's output is never mixed with them; they are written, in order, when the guest ends. It holds at
// most 1 MiB and counts what it had to drop.
type heldWriter struct {
	mu      sync.Mutex
	w       io.Writer
	holding bool
	buf     bytes.Buffer
	dropped int
}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		return h.w.Write(p)
	}
	if h.buf.Len()+len(p) > 1<<20 {
		h.dropped++
		return len(p), nil
	}
	return h.buf.Write(p)
}

func (h *heldWriter) hold() {
	h.mu.Lock()
	h.holding = true
	h.mu.Unlock()
}

func (h *heldWriter) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = false
	h.w.Write(h.buf.Bytes())
	h.buf.Reset()
	if h.dropped > 0 {
		fmt.Fprintf(h.w, "wasi-dapr-host: %d log lines dropped while the guest ran (use --log-output FILE to keep them all)\n", h.dropped)
		h.dropped = 0
	}
}

// setupLogging builds the host logger. The returned holder is non-nil when the log stream is one the
// guest also writes to.
func setupLogging(c LogConfig) (zerolog.Logger, *heldWriter, func(), error) {
	level, err := zerolog.ParseLevel(strings.ToLower(c.Level))
	if err != nil || c.Level == "" {
		return zerolog.Nop(), nil, nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", c.Level)
	}
	var out *os.File
	closeFn := func() {}
	switch c.Output {
	case "", "stderr":
		out = os.Stderr
	case "stdout":
		out = os.Stdout
	default:
		f, err := os.OpenFile(c.Output, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return zerolog.Nop(), nil, nil, fmt.Errorf("--log-output %s: %v (use stderr, stdout or a writable file path)", c.Output, err)
		}
		out, closeFn = f, func() { f.Close() }
	}
	format := c.Format
	if format == "" {
		format = "json"
		if isatty.IsTerminal(out.Fd()) {
			format = "console"
		}
	}
	var holder *heldWriter
	var w io.Writer = out
	if (out == os.Stderr || out == os.Stdout) && !c.Interleave {
		holder = &heldWriter{w: out}
		w = holder
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !isatty.IsTerminal(out.Fd())}
	default:
		return zerolog.Nop(), nil, nil, fmt.Errorf("--log-format %q: use json or console", c.Format)
	}
	zerolog.DurationFieldUnit = time.Millisecond
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), holder, closeFn, nil
}
