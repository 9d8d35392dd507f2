package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Limits are the per-module limits, with defaults merged.
type Limits struct {
	Timeout     time.Duration // per-request wall clock
	HTTPTimeout time.Duration // guest outbound request timeout
	MaxMemory   int64         // guest linear memory cap, bytes
	MaxBody     int64         // request body cap, bytes
	Concurrency int           // instances running at once
	Queue       int           // requests waiting for a slot; beyond it: 503 / RETRY
	// AllowedHosts are the destinations the guest may reach, as written (the caller parses them with
	// its allow-list package). HasAllowedHosts is whether there are any: when false the caller applies
	// its own default (the sidecar only). allowedHosts: [] (or null) is that default, so in a module it
	// also cancels defaults.allowedHosts.
	AllowedHosts    []string
	HasAllowedHosts bool
}

// Builtin are the limits that apply when neither the module nor defaults set one.
var Builtin = Limits{
	Timeout:     10 * time.Second,
	HTTPTimeout: 30 * time.Second,
	MaxMemory:   256 << 20,
	MaxBody:     4 << 20,
	Concurrency: 64,
	Queue:       256,
}

// minMemory is one WebAssembly page: a cap below it leaves the guest no memory at all.
const minMemory = 64 << 10

// Subscription is a pub/sub subscription of a module.
type Subscription struct {
	PubSub          string
	Topic           string
	Route           string // where daprd delivers the events; defaulted to "/events/<pubsub>/<topic>"
	DeadLetterTopic string // "" for none
	Metadata        map[string]string
}

// Module is one guest module and what it serves.
type Module struct {
	Name          string   // unique; [a-z0-9][a-z0-9-_]*
	Path          string   // absolute
	Routes        []string // invocation method patterns: "/exact", "/vars/{id}", "/prefix/..."
	Subscriptions []Subscription
	Bindings      []string // input binding names, each delivered to POST /<name>
	Env           map[string]string
	Args          []string // extra argv after the module name
	Limits        Limits   // defaults merged
}

// Manifest is a validated manifest.
type Manifest struct {
	File    string // as given to Load or Parse; "" from Single
	Modules []Module
}

// Load reads and validates the manifest at path. Relative module paths are relative to the directory
// of path. The error, if any, is an ErrorList listing every problem found.
func Load(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, ErrorList{{File: path, Msg: "the manifest does not exist; check the --config path"}}
		}
		return nil, ErrorList{{File: path, Msg: "cannot read the manifest: " + err.Error()}}
	}
	return Parse(path, data, filepath.Dir(path))
}

// Parse validates the manifest data; file names it in errors and baseDir is the directory module
// paths are relative to ("" for the current directory). The error, if any, is an ErrorList listing
// every problem found, sorted by line.
func Parse(file string, data []byte, baseDir string) (*Manifest, error) {
	p := &parser{file: file, baseDir: baseDir}
	if abs, err := filepath.Abs(baseDir); err == nil {
		p.baseDir = abs
	}
	m := p.parse(data)
	if len(p.errs) > 0 {
		return nil, p.errs.sorted()
	}
	return m, nil
}

// Single is the manifest of `serve --module FILE`: one module named after the file (sanitized: "Hello
// World.wasm" is "hello-world"), with the given routes, subscriptions and bindings, checked as Parse
// checks a manifest. routes nil means ["/..."] (every invocation); a non-nil empty slice means none.
// An empty Subscription.Route gets the default. Zero limits get the Builtin values, except Queue, where
// 0 means no waiting; HasAllowedHosts is set when AllowedHosts is not empty, as in a manifest. Errors name the field
// ("routes[1]", "subscriptions[0].topic", "timeout") but no file.
func Single(path string, routes []string, subs []Subscription, bindings []string, l Limits) (*Manifest, error) {
	p := &parser{}
	if cwd, err := os.Getwd(); err == nil {
		p.baseDir = cwd
	}
	d := &draft{}
	d.mod.Name = sanitizeName(strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".wasm"), ".wat"))
	d.name = ref{field: "name"}
	d.mod.Path = p.checkPath(ref{field: "path"}, path)
	if routes == nil {
		routes = []string{"/..."}
	}
	for i, r := range routes {
		p.addRoute(d, ref{field: fmt.Sprintf("routes[%d]", i)}, r)
	}
	for i, s := range subs {
		f := fmt.Sprintf("subscriptions[%d]", i)
		at := ref{field: f}
		refs := subRefs{at: at, pubsub: ref{field: f + ".pubsub"}, topic: ref{field: f + ".topic"},
			route: ref{field: f + ".route"}, deadLetterTopic: ref{field: f + ".deadLetterTopic"}}
		md := map[string]string(nil)
		if s.Metadata != nil {
			md = make(map[string]string, len(s.Metadata))
			for k, v := range s.Metadata {
				if p.checkMapEntry(ref{field: f + ".metadata"}, k, v, false) {
					md[k] = v
				}
			}
		}
		s.Metadata = md
		p.addSubscription(d, refs, s, s.Route != "")
	}
	for i, b := range bindings {
		p.addBinding(d, ref{field: fmt.Sprintf("bindings[%d]", i)}, b)
	}
	d.mod.Limits = p.singleLimits(l)
	if len(routes) == 0 && len(subs) == 0 && len(bindings) == 0 {
		p.add(ref{}, "the module has no routes, subscriptions or bindings, so nothing can reach it; give at least one")
	}
	p.crossCheck([]*draft{d})
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return &Manifest{Modules: []Module{d.mod}}, nil
}

// singleLimits fills and checks the limits given to Single.
func (p *parser) singleLimits(l Limits) Limits {
	hosts := l.AllowedHosts
	pos := func(field string, v, def int64, show func(int64) string) int64 {
		switch {
		case v == 0:
			return def
		case v < 0:
			p.add(ref{field: field}, "%s must be > 0", show(v))
		}
		return v
	}
	dur := func(v int64) string { return time.Duration(v).String() }
	size := func(v int64) string { return fmt.Sprint(v) }
	l.Timeout = time.Duration(pos("timeout", int64(l.Timeout), int64(Builtin.Timeout), dur))
	l.HTTPTimeout = time.Duration(pos("httpTimeout", int64(l.HTTPTimeout), int64(Builtin.HTTPTimeout), dur))
	l.MaxMemory = pos("maxMemory", l.MaxMemory, Builtin.MaxMemory, size)
	if l.MaxMemory > 0 && l.MaxMemory < minMemory {
		p.add(ref{field: "maxMemory"}, "%d bytes is less than one WebAssembly page; use at least 64KiB", l.MaxMemory)
	}
	l.MaxBody = pos("maxBody", l.MaxBody, Builtin.MaxBody, size)
	l.Concurrency = int(pos("concurrency", int64(l.Concurrency), int64(Builtin.Concurrency), size))
	if l.Queue < 0 {
		p.add(ref{field: "queue"}, "%d must be 0 or more", l.Queue)
	}
	l.AllowedHosts = nil
	for i, h := range hosts {
		if strings.TrimSpace(h) == "" {
			p.add(ref{field: fmt.Sprintf("allowedHosts[%d]", i)}, "is empty; write a destination such as \"http://127.0.0.1:3500\"")
			continue
		}
		l.AllowedHosts = append(l.AllowedHosts, h)
	}
	l.HasAllowedHosts = len(l.AllowedHosts) > 0
	return l
}

// sanitizeName turns s into a valid module name: lower case, runs of other characters become "-".
func sanitizeName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' && b.Len() > 0:
			b.WriteRune(r)
			dash = r == '-'
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	n := strings.TrimRight(b.String(), "-_")
	n = strings.TrimLeft(n, "-_")
	if n == "" {
		return "module"
	}
	return n
}
