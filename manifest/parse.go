package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	topFields   = []string{"defaults", "modules"}
	limitFields = []string{"timeout", "maxMemory", "concurrency", "queue", "maxBody", "httpTimeout", "allowedHosts"}
	moduleOwn   = []string{"name", "path", "routes", "subscriptions", "bindings", "env", "args"}
	// moduleFields are the fields of a module: its own, then every limit.
	moduleFields = append(slices.Clip(moduleOwn), limitFields...)
	subFields    = []string{"pubsub", "topic", "route", "deadLetterTopic", "metadata"}
)

// ref is where a value came from: its field path and, when it came from YAML, its node.
type ref struct {
	field string
	node  *yaml.Node
}

// where names the place of r for a message about another value: "line 5", else the field path.
func (r ref) where() string {
	if r.node != nil && r.node.Line > 0 {
		return "line " + strconv.Itoa(r.node.Line)
	}
	return r.field
}

type parser struct {
	file    string
	baseDir string // absolute; module paths are relative to it
	errs    ErrorList
}

// add reports a problem with the value at r.
func (p *parser) add(r ref, format string, args ...any) {
	e := &Error{File: p.file, Field: r.field, Msg: fmt.Sprintf(format, args...)}
	if r.node != nil {
		e.Line, e.Column = r.node.Line, r.node.Column
	}
	p.errs = append(p.errs, e)
}

var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yaml.v3 gives the 0-based line of these parser errors (and of the others, the 1-based line), the
// line where the enclosing mapping or list starts when there is one.
var parserProblems = []string{
	"did not find expected ',' or ']'", "did not find expected ',' or '}'", "did not find expected '-' indicator",
	"did not find expected <document start>", "did not find expected key", "did not find expected node content",
	"found duplicate %TAG directive", "found duplicate %YAML directive", "found incompatible YAML document",
	"found undefined tag handle",
}

var syntaxHints = map[string]string{
	"did not find expected key":                                    "an entry of the mapping is indented wrongly or is not \"key: value\"; check the indentation from this line on",
	"did not find expected '-' indicator":                          "an entry of the list is indented wrongly; check the indentation from this line on",
	"did not find expected ',' or ']'":                             "a [...] list from this line on is not closed with \"]\" or has an item that needs quotes, e.g. \"/orders/{id}\"",
	"did not find expected ',' or '}'":                             "a {...} mapping from this line on is not closed with \"}\" or has a value that needs quotes",
	"did not find expected node content":                           "a value is missing, or starts with a character that needs quotes",
	"mapping values are not allowed in this context":               "a value contains \": \" (quote it) or a key is indented wrongly",
	"found character that cannot start any token":                  "a value starts with a character that needs quotes (@, `, %)",
	"found unexpected end of stream":                               "a quoted value is not closed",
	"could not find expected ':'":                                  "a key lacks its \":\", or a quoted value is not closed",
	"found a tab character that violates indentation":              "indent with spaces, not tabs",
	"found a tab character where an indentation space is expected": "indent with spaces, not tabs",
	"block sequence entries are not allowed in this context":       "a \"- \" list entry is indented wrongly, or follows a value on the same key",
}

// syntaxError reports a YAML syntax error.
func (p *parser) syntaxError(err error, data []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: p.file}
	if m := syntaxLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	_, known := syntaxHints[msg]
	if slices.Contains(parserProblems, msg) {
		known = true
		if e.Line > 0 {
			e.Line++
		}
	}
	if e.Line == 0 && known {
		e.Line = 1 // yaml.v3 leaves out line 1
	}
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > 1 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	e.Line = min(e.Line, len(lines))
	hint, ok := syntaxHints[msg]
	if !ok {
		hint = "check the indentation, quoting and colons"
	}
	for _, l := range lines[max(e.Line-2, 0):max(e.Line, 0)] {
		if lead := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]; bytes.ContainsRune(lead, '\t') {
			hint = "indent with spaces, not tabs"
		}
	}
	e.Msg = "YAML syntax error: " + msg + "; " + hint
	p.errs = append(p.errs, e)
}

// decode reads the first YAML document of data and whether a second one follows.
func decode(data []byte) (doc, next *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, next, err = nil, nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	doc = new(yaml.Node)
	if err := dec.Decode(doc); err != nil {
		if err == io.EOF {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	next = new(yaml.Node)
	switch err := dec.Decode(next); {
	case err == io.EOF:
		return doc, nil, nil
	case err != nil:
		return doc, nil, err
	}
	return doc, next, nil
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names the kind of n for messages.
func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case n.Kind == yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

var simpleKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// join is the field path of name inside path.
func join(path, name string) string {
	switch {
	case !simpleKey.MatchString(name):
		return path + "[" + strconv.Quote(name) + "]"
	case path == "":
		return name
	}
	return path + "." + name
}

func index(path, name string, i int) string { return join(path, name) + "[" + strconv.Itoa(i) + "]" }

// fieldMap is the entries of a mapping by key, in order.
type fieldMap struct {
	m    map[string]entry
	keys []string
}

type entry struct{ key, val *yaml.Node }

func (f fieldMap) get(k string) (*yaml.Node, bool) {
	e, ok := f.m[k]
	return deref(e.val), ok
}

// fields reads mapping n. Keys not in known (when known is not nil) and keys set twice are reported;
// merge keys (<<: *anchor) are followed, the mapping's own keys winning over merged ones.
func (p *parser) fields(n *yaml.Node, path string, known []string, context string) fieldMap {
	f := fieldMap{m: map[string]entry{}}
	p.collect(n, path, known, context, &f, true, map[*yaml.Node]bool{})
	return f
}

func (p *parser) collect(n *yaml.Node, path string, known []string, context string, f *fieldMap, own bool, visited map[*yaml.Node]bool) {
	if visited[n] {
		return
	}
	visited[n] = true
	var merges []*yaml.Node
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		kd := deref(k)
		if kd.Kind != yaml.ScalarNode {
			p.add(ref{path, k}, "a key must be a plain name, not %s", describe(kd))
			continue
		}
		name := kd.Value
		fp := join(path, name)
		if prev, dup := seen[name]; dup {
			if own {
				p.add(ref{fp, k}, "is set twice (also at line %d); keep one", prev.Line)
			}
			continue
		}
		seen[name] = k
		if known != nil && !slices.Contains(known, name) {
			p.add(ref{fp, k}, "unknown field%s; known fields: %s", suggest(name, known, context), strings.Join(known, ", "))
			continue
		}
		if _, set := f.m[name]; set {
			continue // set where this mapping is merged, which wins
		}
		f.m[name] = entry{k, v}
		f.keys = append(f.keys, name)
	}
	for _, m := range merges {
		md := deref(m)
		var srcs []*yaml.Node
		switch {
		case md.Kind == yaml.MappingNode:
			srcs = []*yaml.Node{md}
		case md.Kind == yaml.SequenceNode:
			for _, c := range md.Content {
				srcs = append(srcs, deref(c))
			}
		}
		for _, s := range srcs {
			if s.Kind != yaml.MappingNode {
				p.add(ref{path + ".<<", s}, "a merge key must name mappings (<<: *base or <<: [*a, *b]), not %s", describe(s))
				continue
			}
			p.collect(s, path, known, context, f, false, visited)
		}
		if len(srcs) == 0 {
			p.add(ref{path + ".<<", md}, "a merge key must name mappings (<<: *base or <<: [*a, *b]), not %s", describe(md))
		}
	}
}

// suggest is a hint for the unknown field name: a near miss of a known field, or where it belongs.
func suggest(name string, known []string, context string) string {
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s)) }
	best, bestD := "", 3
	for _, k := range known {
		if norm(k) == norm(name) {
			return " (did you mean " + k + "?)"
		}
		if d := distance(strings.ToLower(name), strings.ToLower(k), bestD); d < bestD && len(name) > 3 {
			best, bestD = k, d
		}
	}
	if best != "" {
		return " (did you mean " + best + "?)"
	}
	switch {
	case context == "top" && (slices.Contains(moduleFields, name) || slices.Contains(subFields, name)):
		return " (module fields go in an entry of the modules list)"
	case context == "defaults" && slices.Contains(moduleFields, name):
		return " (only limits may be set in defaults; " + name + " goes in a module)"
	case context == "module" && slices.Contains(subFields, name):
		return " (" + name + " goes in an entry of the subscriptions list)"
	}
	return ""
}

// distance is the Levenshtein distance of a and b, or max when it is at least max.
func distance(a, b string, max int) int {
	if len(a) > 40 || len(b) > 40 || len(a)-len(b) >= max || len(b)-len(a) >= max {
		return max
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], max)
}

// scalar reads a single value as written ("8080" for 8080, "true" for true); null reads as "".
func (p *parser) scalar(r ref, example string) (string, bool) {
	n := r.node
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		p.add(r, "must be a single value, not %s; e.g. %s", describe(n), example)
		return "", false
	}
	return n.Value, true
}

// list reads a sequence; null reads as empty.
func (p *parser) list(r ref, example string) []*yaml.Node {
	n := r.node
	if isNull(n) {
		return nil
	}
	switch n.Kind {
	case yaml.SequenceNode:
		items := make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			items[i] = deref(c)
		}
		return items
	case yaml.ScalarNode:
		p.add(r, "must be a list, not a single value; write [%s]", n.Value)
	default:
		p.add(r, "must be a list, not %s; e.g. %s", describe(n), example)
	}
	return nil
}

// stringMap reads a mapping of names to single values. env: names must be valid variable names.
func (p *parser) stringMap(r ref, env bool) map[string]string {
	n := r.node
	if isNull(n) {
		return nil
	}
	example := "{rawPayload: \"true\"}"
	if env {
		example = "{GREETING: hello}"
	}
	if n.Kind != yaml.MappingNode {
		p.add(r, "must be a mapping of names to values, not %s; e.g. %s", describe(n), example)
		return nil
	}
	f := p.fields(n, r.field, nil, "")
	out := make(map[string]string, len(f.keys))
	for _, k := range f.keys {
		e := f.m[k]
		v, ok := p.scalar(ref{join(r.field, k), deref(e.val)}, example)
		if ok && p.checkMapEntry(ref{join(r.field, k), e.key}, k, v, env) {
			out[k] = v
		}
	}
	return out
}

// checkMapEntry checks one env or metadata entry.
func (p *parser) checkMapEntry(r ref, k, v string, env bool) bool {
	switch {
	case k == "" && env:
		p.add(r, "a variable name must not be empty")
	case k == "":
		p.add(r, "a metadata key must not be empty")
	case env && strings.ContainsAny(k, "=\x00"):
		p.add(r, "variable name %q must not contain \"=\" or NUL", k)
	case strings.ContainsRune(v, 0):
		p.add(r, "the value must not contain a NUL character")
	default:
		return true
	}
	return false
}

// parse is Parse after the setup.
func (p *parser) parse(data []byte) *Manifest {
	if len(bytes.TrimSpace(data)) == 0 {
		p.add(ref{}, "the manifest is empty; it needs a modules list, e.g. modules: [{name: app, path: ./app.wasm, routes: [/...]}]")
		return nil
	}
	doc, next, err := decode(data)
	if err != nil {
		p.syntaxError(err, data)
		return nil
	}
	if next != nil {
		p.add(ref{node: next}, "only one YAML document is allowed; remove this \"---\" and what follows, or merge it into the first document")
	}
	if doc == nil || len(doc.Content) == 0 || isNull(deref(doc.Content[0])) {
		p.add(ref{node: doc}, "the manifest has no content; it needs a modules list, e.g. modules: [{name: app, path: ./app.wasm, routes: [/...]}]")
		return nil
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.add(ref{node: root}, "the top level must be a mapping with a modules list (and optionally defaults), not %s", describe(root))
		return nil
	}
	top := p.fields(root, "", topFields, "top")
	var def rawLimits
	if n, ok := top.get("defaults"); ok && !isNull(n) {
		if n.Kind != yaml.MappingNode {
			p.add(ref{"defaults", n}, "must be a mapping of limits, not %s; e.g. defaults: {timeout: 10s, maxMemory: 64MiB}", describe(n))
		} else {
			def = p.limits(p.fields(n, "defaults", limitFields, "defaults"), "defaults")
		}
	}
	n, ok := top.get("modules")
	if !ok {
		p.add(ref{"modules", root}, "missing; add a list of modules, e.g. modules: [{name: app, path: ./app.wasm, routes: [/...]}]")
		return nil
	}
	items := p.list(ref{"modules", n}, "modules: [{name: app, path: ./app.wasm}]")
	if len(items) == 0 && (isNull(n) || n.Kind == yaml.SequenceNode) {
		p.add(ref{"modules", n}, "the list is empty; add at least one module with name and path")
	}
	var drafts []*draft
	for i, item := range items {
		if d := p.module(item, index("", "modules", i), def); d != nil {
			drafts = append(drafts, d)
		}
	}
	p.crossCheck(drafts)
	m := &Manifest{File: p.file}
	for _, d := range drafts {
		m.Modules = append(m.Modules, d.mod)
	}
	return m
}

// module reads one entry of the modules list.
func (p *parser) module(n *yaml.Node, path string, def rawLimits) *draft {
	at := ref{path, n}
	if n.Kind != yaml.MappingNode {
		p.add(at, "a module must be a mapping with at least name and path, not %s", describe(n))
		return nil
	}
	f := p.fields(n, path, moduleFields, "module")
	d := &draft{at: at}

	file, fileOK := "", false
	if v, ok := f.get("path"); ok {
		file, fileOK = p.scalar(ref{path + ".path", v}, "path: ./app.wasm")
	}
	if v, ok := f.get("name"); ok {
		d.name = ref{path + ".name", v}
		if s, ok := p.scalar(d.name, "name: orders"); ok {
			d.mod.Name = s
			switch {
			case s == "":
				p.add(d.name, "must not be empty; e.g. name: %s", exampleName(file))
			case !validName.MatchString(s):
				p.add(d.name, "%q is not a valid name; use lowercase letters, digits, \"-\" and \"_\", starting with a letter or digit, e.g. %q", s, sanitizeName(s))
			}
		}
	} else {
		p.add(ref{path + ".name", n}, "missing; add a unique name, e.g. name: %s", exampleName(file))
	}
	if v, ok := f.get("path"); ok {
		if fileOK {
			d.mod.Path = p.checkPath(ref{path + ".path", v}, file)
		}
	} else {
		p.add(ref{path + ".path", n}, "missing; add the module file, e.g. path: ./%s.wasm (relative to the manifest's directory)", exampleName(""))
	}

	claims := false
	if v, ok := f.get("routes"); ok {
		for i, item := range p.list(ref{path + ".routes", v}, "routes: [/orders, /orders/{id}]") {
			r := ref{index(path, "routes", i), item}
			if s, ok := p.scalar(r, "/orders"); ok {
				p.addRoute(d, r, s)
			}
		}
		claims = claims || !isNull(v) && (v.Kind != yaml.SequenceNode || len(v.Content) > 0)
	}
	if v, ok := f.get("subscriptions"); ok {
		for i, item := range p.list(ref{path + ".subscriptions", v}, "subscriptions: [{pubsub: pubsub, topic: orders}]") {
			p.subscription(d, item, index(path, "subscriptions", i))
		}
		claims = claims || !isNull(v) && (v.Kind != yaml.SequenceNode || len(v.Content) > 0)
	}
	if v, ok := f.get("bindings"); ok {
		for i, item := range p.list(ref{path + ".bindings", v}, "bindings: [cron-orders]") {
			r := ref{index(path, "bindings", i), item}
			if s, ok := p.scalar(r, "cron-orders"); ok {
				p.addBinding(d, r, s)
			}
		}
		claims = claims || !isNull(v) && (v.Kind != yaml.SequenceNode || len(v.Content) > 0)
	}
	if !claims {
		p.add(at, "the module has no routes, subscriptions or bindings, so nothing can reach it; add at least one")
	}
	if v, ok := f.get("env"); ok {
		d.mod.Env = p.stringMap(ref{path + ".env", v}, true)
	}
	if v, ok := f.get("args"); ok {
		for i, item := range p.list(ref{path + ".args", v}, "args: [--verbose]") {
			r := ref{index(path, "args", i), item}
			if s, ok := p.scalar(r, "--verbose"); ok {
				if strings.ContainsRune(s, 0) {
					p.add(r, "must not contain a NUL character")
				}
				d.mod.Args = append(d.mod.Args, s)
			}
		}
	}
	d.mod.Limits = p.limits(f, path).over(def)
	return d
}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// exampleName is a module name to suggest, from the module's file when known.
func exampleName(file string) string {
	if file == "" {
		return "app"
	}
	return sanitizeName(strings.TrimSuffix(strings.TrimSuffix(baseName(file), ".wasm"), ".wat"))
}

func baseName(file string) string {
	if i := strings.LastIndexAny(file, `/\`); i >= 0 {
		return file[i+1:]
	}
	return file
}

// subscription reads one entry of a subscriptions list.
func (p *parser) subscription(d *draft, n *yaml.Node, path string) {
	at := ref{path, n}
	if n.Kind != yaml.MappingNode {
		p.add(at, "a subscription must be a mapping with pubsub and topic, not %s; e.g. {pubsub: pubsub, topic: orders}", describe(n))
		return
	}
	f := p.fields(n, path, subFields, "subscription")
	refs := subRefs{at: at}
	var s Subscription
	ok := true
	read := func(key string, dst *string, r *ref, example string) {
		*r = ref{path + "." + key, n}
		if v, set := f.get(key); set {
			*r = ref{path + "." + key, v}
			var good bool
			*dst, good = p.scalar(*r, example)
			ok = ok && good
		}
	}
	read("pubsub", &s.PubSub, &refs.pubsub, "pubsub: pubsub")
	read("topic", &s.Topic, &refs.topic, "topic: orders")
	read("route", &s.Route, &refs.route, "route: /events/orders")
	read("deadLetterTopic", &s.DeadLetterTopic, &refs.deadLetterTopic, "deadLetterTopic: orders-dead")
	if v, set := f.get("metadata"); set {
		s.Metadata = p.stringMap(ref{path + ".metadata", v}, false)
	}
	if ok {
		p.addSubscription(d, refs, s, s.Route != "")
	}
}

// rawLimits are the limits one mapping sets; nil means not set.
type rawLimits struct {
	timeout, httpTimeout, maxMemory, maxBody, concurrency, queue *int64
	allowedHosts                                                 []string
	hasAllowedHosts                                              bool
}

// limits reads the limit fields of a defaults or module mapping.
func (p *parser) limits(f fieldMap, path string) rawLimits {
	var l rawLimits
	dur := func(key string) *int64 {
		v, ok := f.get(key)
		if !ok {
			return nil
		}
		r := ref{join(path, key), v}
		s, ok := p.scalar(r, key+": 10s")
		if !ok {
			return nil
		}
		d, err := ParseDuration(s)
		switch {
		case err != nil:
			p.add(r, "%s", durationMsg(s, err))
		case d <= 0:
			p.add(r, "%q must be greater than 0; %s", s, durationHint)
		default:
			x := int64(d)
			return &x
		}
		return nil
	}
	size := func(key string, min int64) *int64 {
		v, ok := f.get(key)
		if !ok {
			return nil
		}
		r := ref{join(path, key), v}
		s, ok := p.scalar(r, key+": 4MiB")
		if !ok {
			return nil
		}
		z, err := ParseSize(s)
		switch {
		case err != nil:
			p.add(r, "%s", sizeMsg(s, err))
		case z <= 0:
			p.add(r, "%q must be greater than 0; %s", s, sizeHint)
		case int64(z) < min:
			p.add(r, "%q is less than one WebAssembly page (64KiB); use e.g. 64MiB", s)
		default:
			x := int64(z)
			return &x
		}
		return nil
	}
	count := func(key string, min int64, rule, example string) *int64 {
		v, ok := f.get(key)
		if !ok {
			return nil
		}
		r := ref{join(path, key), v}
		s, ok := p.scalar(r, key+": "+example)
		if !ok {
			return nil
		}
		x, err := strconv.ParseInt(strings.TrimSpace(s), 10, 0)
		switch {
		case err != nil && errors.Is(err, strconv.ErrRange):
			p.add(r, "%q is too large", s)
		case err != nil:
			p.add(r, "%q is not a whole number; e.g. %s: %s", s, key, example)
		case x < min:
			p.add(r, "%s must be %s", s, rule)
		default:
			return &x
		}
		return nil
	}
	l.timeout = dur("timeout")
	l.httpTimeout = dur("httpTimeout")
	l.maxMemory = size("maxMemory", minMemory)
	l.maxBody = size("maxBody", 1)
	l.concurrency = count("concurrency", 1, "at least 1", "64")
	l.queue = count("queue", 0, "0 or more", "256")
	if v, ok := f.get("allowedHosts"); ok {
		r := ref{join(path, "allowedHosts"), v}
		items := p.list(r, `allowedHosts: ["http://127.0.0.1:3500"]`)
		l.hasAllowedHosts = true
		for i, item := range items {
			r := ref{index(path, "allowedHosts", i), item}
			s, ok := p.scalar(r, `"http://127.0.0.1:3500"`)
			switch {
			case !ok:
			case strings.TrimSpace(s) == "":
				p.add(r, "is empty; write a destination such as \"http://127.0.0.1:3500\"")
			default:
				l.allowedHosts = append(l.allowedHosts, s)
			}
		}
	}
	return l
}

// over is l with what l does not set taken from def, then from Builtin.
func (l rawLimits) over(def rawLimits) Limits {
	pick := func(v, d *int64, b int64) int64 {
		switch {
		case v != nil:
			return *v
		case d != nil:
			return *d
		}
		return b
	}
	out := Limits{
		Timeout:     time.Duration(pick(l.timeout, def.timeout, int64(Builtin.Timeout))),
		HTTPTimeout: time.Duration(pick(l.httpTimeout, def.httpTimeout, int64(Builtin.HTTPTimeout))),
		MaxMemory:   pick(l.maxMemory, def.maxMemory, Builtin.MaxMemory),
		MaxBody:     pick(l.maxBody, def.maxBody, Builtin.MaxBody),
		Concurrency: int(pick(l.concurrency, def.concurrency, int64(Builtin.Concurrency))),
		Queue:       int(pick(l.queue, def.queue, int64(Builtin.Queue))),
	}
	hosts := def.allowedHosts
	if l.hasAllowedHosts {
		hosts = l.allowedHosts // even when empty: [] in a module sets the caller's default again
	}
	if len(hosts) > 0 {
		out.AllowedHosts, out.HasAllowedHosts = slices.Clone(hosts), true
	}
	return out
}
