package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// draft is a module being read, with where each of its values came from.
type draft struct {
	mod      Module
	at       ref        // the module's mapping; zero for Single
	name     ref        //
	routes   []routeRef // parallel to mod.Routes
	subs     []subRef   // parallel to mod.Subscriptions
	bindings []ref      // parallel to mod.Bindings
}

type routeRef struct {
	ref
	pat *pattern
}

type subRefs struct{ at, pubsub, topic, route, deadLetterTopic ref }

type subRef struct {
	refs      subRefs
	defaulted bool // the route is the default one
}

// display names the module in messages about another one.
func (d *draft) display() string {
	if d.mod.Name != "" {
		return strconv.Quote(d.mod.Name)
	}
	return d.at.field
}

// reserved are the first path segments the host serves itself.
var reserved = []string{"dapr", "healthz", "metrics"}

const reservedMsg = "is served by the host itself (/dapr/..., /healthz, /metrics); use another path"

// checkPath checks that file (relative to the base directory) is a regular file and returns its
// absolute path.
func (p *parser) checkPath(r ref, file string) string {
	if file == "" {
		p.add(r, "must not be empty; give the module file, e.g. ./app.wasm (relative to the manifest's directory)")
		return ""
	}
	abs := file
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(p.baseDir, abs)
	}
	abs = filepath.Clean(abs)
	resolved := ""
	if abs != file {
		resolved = " (resolved to " + abs + ")"
	}
	fi, err := os.Stat(abs)
	switch {
	case err == nil && fi.Mode().IsRegular():
	case err == nil && fi.IsDir():
		p.add(r, "%s is a directory%s; give the path of the .wasm file", file, resolved)
	case err == nil:
		p.add(r, "%s is not a regular file%s; give the path of the .wasm file", file, resolved)
	case errors.Is(err, fs.ErrNotExist):
		p.add(r, "%s does not exist%s", file, resolved)
	default:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		p.add(r, "%s cannot be read%s: %v", file, resolved, err)
	}
	return abs
}

// pattern is an invocation route, parsed the way gorilla/mux parses it.
type pattern struct {
	raw    string
	key    string // raw with variable names dropped: equal keys match the same paths
	prefix bool   // ends in "/..."
	base   string // raw without the "/..." of a prefix route
	lit    string // the literal start of base, up to its first variable
	vars   bool
	re     *regexp.Regexp // the paths the route matches
}

// parseRoute parses an invocation route; the string is what is wrong with it.
func parseRoute(s string) (*pattern, string) {
	if s == "" {
		return nil, `is empty; write a path such as "/orders"`
	}
	if s[0] != '/' {
		return nil, fmt.Sprintf("%q must start with \"/\"; write %q", s, "/"+s)
	}
	pt := &pattern{raw: s}
	pt.base, pt.prefix = strings.CutSuffix(s, "/...")
	var key, re strings.Builder
	re.WriteString("^")
	names := map[string]bool{}
	literal := func(lit string) string {
		if !pt.vars {
			pt.lit += lit
		}
		key.WriteString(lit)
		re.WriteString(regexp.QuoteMeta(lit))
		return literalProblem(s, lit)
	}
	variable := func(v string) string {
		pt.vars = true
		name, patt, hasPatt := strings.Cut(v, ":")
		switch {
		case name == "":
			return fmt.Sprintf("%q: the variable {%s} has no name; write {name} or {name:regexp}", s, v)
		case hasPatt && patt == "":
			return fmt.Sprintf("%q: the variable {%s} has an empty regexp; write {%s} or {%s:regexp}", s, v, name, name)
		case names[name]:
			return fmt.Sprintf("%q uses the variable {%s} twice; give each variable its own name", s, name)
		}
		names[name] = true
		key.WriteString("{")
		if hasPatt {
			key.WriteString(":" + patt)
		} else {
			patt = "[^/]+"
		}
		key.WriteString("}")
		rx, err := regexp.Compile(patt)
		if err != nil {
			return fmt.Sprintf("%q: the regexp of {%s} is invalid: %v", s, name, err)
		}
		if rx.NumSubexp() > 0 {
			return fmt.Sprintf("%q: the regexp of {%s} has a capturing group; write (?:...) instead of (...)", s, name)
		}
		re.WriteString("(?:" + patt + ")")
		return ""
	}
	level, start, end := 0, 0, 0
	for i := 0; i < len(pt.base); i++ {
		switch pt.base[i] {
		case '{':
			if level++; level == 1 {
				if msg := literal(pt.base[end:i]); msg != "" {
					return nil, msg
				}
				start = i
			}
		case '}':
			if level--; level == 0 {
				if msg := variable(pt.base[start+1 : i]); msg != "" {
					return nil, msg
				}
				end = i + 1
			} else if level < 0 {
				return nil, fmt.Sprintf("%q has unbalanced braces; write variables as {name} or {name:regexp}", s)
			}
		}
	}
	if level != 0 {
		return nil, fmt.Sprintf("%q has unbalanced braces; write variables as {name} or {name:regexp}", s)
	}
	if msg := literal(pt.base[end:]); msg != "" {
		return nil, msg
	}
	if pt.prefix {
		if strings.HasSuffix(pt.base, "/") {
			return nil, fmt.Sprintf("%q has an empty segment (\"//\"); remove the extra \"/\"", s)
		}
		key.WriteString("/...")
		re.WriteString("(?:/.*)?")
	}
	re.WriteString("$")
	rx, err := regexp.Compile(re.String())
	if err != nil {
		return nil, fmt.Sprintf("%q: a variable's regexp is invalid: %v", s, err)
	}
	pt.key, pt.re = key.String(), rx
	if seg, _, _ := strings.Cut(strings.TrimPrefix(pt.base, "/"), "/"); slices.Contains(reserved, seg) {
		return nil, fmt.Sprintf("%q %s", s, reservedMsg)
	}
	return pt, ""
}

// literalProblem is what is wrong with lit, literal text of route, if anything.
func literalProblem(route, lit string) string {
	for _, r := range lit {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return fmt.Sprintf("%q contains a space or control character; percent-encode it (e.g. %%20)", route)
		case r == '?' || r == '#':
			return fmt.Sprintf("%q contains %q; a route is a path only, without a query or fragment", route, r)
		}
	}
	switch {
	case strings.Contains(lit, "//"):
		return fmt.Sprintf("%q has an empty segment (\"//\"); remove the extra \"/\"", route)
	case strings.Contains(lit, "..."):
		return fmt.Sprintf("%q: \"...\" may only end a route, as \"/...\"", route)
	}
	return ""
}

// literalPathProblem is what is wrong with s as a subscription route, if anything.
func literalPathProblem(s string) string {
	switch {
	case s == "":
		return `is empty; write a path such as "/events/orders"`
	case s[0] != '/':
		return fmt.Sprintf("%q must start with \"/\"; write %q", s, "/"+s)
	case strings.ContainsAny(s, "{}"):
		return fmt.Sprintf("%q must be a literal path, without {variables}", s)
	case strings.Contains(s, "..."):
		return fmt.Sprintf("%q must be a literal path, without \"...\"", s)
	}
	if msg := literalProblem(s, s); msg != "" {
		return msg
	}
	if seg, _, _ := strings.Cut(s[1:], "/"); slices.Contains(reserved, seg) {
		return fmt.Sprintf("%q %s", s, reservedMsg)
	}
	return ""
}

func (p *parser) addRoute(d *draft, r ref, s string) {
	pt, msg := parseRoute(s)
	if msg != "" {
		p.add(r, "%s", msg)
		return
	}
	d.mod.Routes = append(d.mod.Routes, s)
	d.routes = append(d.routes, routeRef{r, pt})
}

func badNameRune(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }

func (p *parser) addSubscription(d *draft, refs subRefs, s Subscription, routeGiven bool) {
	ok := true
	bad := func(r ref, format string, args ...any) {
		p.add(r, format, args...)
		ok = false
	}
	switch {
	case s.PubSub == "":
		bad(refs.pubsub, "is required; add the name of a Dapr pub/sub component, e.g. pubsub: pubsub")
	case strings.IndexFunc(s.PubSub, badNameRune) >= 0:
		bad(refs.pubsub, "%q is not a pub/sub component name: it must not contain spaces, control characters or \"/\"", s.PubSub)
	}
	switch {
	case s.Topic == "":
		bad(refs.topic, "is required; add the topic, e.g. topic: orders")
	case strings.IndexFunc(s.Topic, unicode.IsControl) >= 0:
		bad(refs.topic, "%q must not contain control characters", s.Topic)
	}
	switch {
	case strings.IndexFunc(s.DeadLetterTopic, unicode.IsControl) >= 0:
		bad(refs.deadLetterTopic, "%q must not contain control characters", s.DeadLetterTopic)
	case s.DeadLetterTopic != "" && s.DeadLetterTopic == s.Topic:
		bad(refs.deadLetterTopic, "%q is the topic itself, so dead letters would be delivered again; use another topic, e.g. %q", s.DeadLetterTopic, s.Topic+"-dead")
	}
	if !ok {
		return
	}
	if !routeGiven {
		s.Route = "/events/" + s.PubSub + "/" + s.Topic
		if msg := literalPathProblem(s.Route); msg != "" {
			p.add(refs.route, "the default route is not usable: %s; set route explicitly", msg)
			return
		}
	} else if msg := literalPathProblem(s.Route); msg != "" {
		p.add(refs.route, "%s", msg)
		return
	}
	d.mod.Subscriptions = append(d.mod.Subscriptions, s)
	d.subs = append(d.subs, subRef{refs, !routeGiven})
}

var validBinding = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

func (p *parser) addBinding(d *draft, r ref, name string) {
	switch {
	case name == "":
		p.add(r, "is empty; write the name of a Dapr input binding component, e.g. cron-orders")
	case !validBinding.MatchString(name) || strings.Trim(name, ".") == "":
		p.add(r, "%q is not a valid binding name: daprd delivers it to POST /<name>, so use only letters, digits, \"-\", \"_\" and \".\"", name)
	case slices.Contains(reserved, name):
		p.add(r, "%q is reserved: POST /%s is served by the host itself; rename the binding component", name, name)
	default:
		d.mod.Bindings = append(d.mod.Bindings, name)
		d.bindings = append(d.bindings, r)
	}
}

// covers reports whether route e matches every path that route l matches (conservatively: false when
// unsure).
func covers(e, l *pattern) bool {
	if !l.vars && !l.prefix {
		return e.re.MatchString(l.base)
	}
	if !e.prefix || e.vars {
		return false
	}
	if e.base == "" {
		return true
	}
	if !l.vars {
		return l.base == e.base || strings.HasPrefix(l.base, e.base+"/")
	}
	return strings.HasPrefix(l.lit, e.base+"/")
}

// crossCheck checks what must be unique across modules and what would make requests reach the
// wrong module.
func (p *parser) crossCheck(ds []*draft) {
	names := map[string]ref{}
	for _, d := range ds {
		n := d.mod.Name
		if n == "" {
			continue
		}
		if first, dup := names[n]; dup {
			p.add(d.name, "%q is used twice (also at %s); names must be unique", n, first.where())
			continue
		}
		names[n] = d.name
	}

	type route struct {
		d *draft
		r routeRef
	}
	routes := map[string]route{}
	literal := map[string]route{} // routes without variables or "/...", by path
	for _, d := range ds {
		for _, r := range d.routes {
			first, dup := routes[r.pat.key]
			switch {
			case !dup:
				routes[r.pat.key] = route{d, r}
				if !r.pat.vars && !r.pat.prefix {
					literal[r.pat.raw] = route{d, r}
				}
			case first.d == d && first.r.pat.raw == r.pat.raw:
				p.add(r.ref, "%q is listed twice (also at %s); remove one", r.pat.raw, first.r.where())
			case first.d == d:
				p.add(r.ref, "%q is the same route as %q (%s); remove one", r.pat.raw, first.r.pat.raw, first.r.where())
			case first.r.pat.raw == r.pat.raw:
				p.add(r.ref, "%q is also a route of module %s (%s); a route can belong to one module only", r.pat.raw, first.d.display(), first.r.where())
			default:
				p.add(r.ref, "%q is the same route as %q of module %s (%s); a route can belong to one module only", r.pat.raw, first.r.pat.raw, first.d.display(), first.r.where())
			}
		}
	}
	// The host tries routes module by module, the first match winning.
	for j, d := range ds {
	next:
		for _, l := range d.routes {
			for _, e := range ds[:j] {
				for _, er := range e.routes {
					if e != d && er.pat.key != l.pat.key && covers(er.pat, l.pat) {
						p.add(l.ref, "%q is never reached: route %q of module %s (%s), listed earlier, matches it first; list module %s before module %s, or narrow %q",
							l.pat.raw, er.pat.raw, e.display(), er.where(), d.display(), e.display(), er.pat.raw)
						continue next
					}
				}
			}
		}
	}

	// Subscription routes and bindings are POST routes the host tries before the invocation routes.
	type post struct {
		d    *draft
		r    ref
		what string
	}
	posts := map[string]post{}
	pairs := map[string]post{}
	for _, d := range ds {
		for i, s := range d.subs {
			sub := d.mod.Subscriptions[i]
			k := sub.PubSub + "\x00" + sub.Topic
			if first, dup := pairs[k]; dup {
				if first.d == d {
					p.add(s.refs.at, "pubsub %q topic %q is subscribed twice (also at %s); remove one", sub.PubSub, sub.Topic, first.r.where())
				} else {
					p.add(s.refs.at, "pubsub %q topic %q is already subscribed by module %s (%s); a topic can be delivered to one module only", sub.PubSub, sub.Topic, first.d.display(), first.r.where())
				}
				continue
			}
			pairs[k] = post{d, s.refs.at, ""}
			what := "the route"
			if s.defaulted {
				what = "the default route"
			}
			if first, dup := posts[sub.Route]; dup {
				p.add(s.refs.route, "%s %q is also the route of %s (%s); give each subscription its own route", what, sub.Route, first.what, first.r.where())
			} else if inv, ok := literal[sub.Route]; ok {
				p.add(s.refs.route, "%s %q is also an invocation route of module %s (%s); set the subscription's route to another path", what, sub.Route, inv.d.display(), inv.r.where())
			} else {
				posts[sub.Route] = post{d, s.refs.route, fmt.Sprintf("subscription %s/%s of module %s", sub.PubSub, sub.Topic, d.display())}
			}
		}
	}
	bindings := map[string]post{}
	for _, d := range ds {
		for i, b := range d.mod.Bindings {
			r, path := d.bindings[i], "/"+b
			if first, dup := bindings[b]; dup {
				if first.d == d {
					p.add(r, "%q is listed twice (also at %s); remove one", b, first.r.where())
				} else {
					p.add(r, "%q is also a binding of module %s (%s); an input binding is delivered to one module only", b, first.d.display(), first.r.where())
				}
				continue
			}
			bindings[b] = post{d, r, ""}
			if first, dup := posts[path]; dup {
				p.add(r, "binding %q is delivered to POST %s, which is also the route of %s (%s); rename one", b, path, first.what, first.r.where())
			} else if inv, ok := literal[path]; ok {
				p.add(r, "binding %q is delivered to POST %s, which is also an invocation route of module %s (%s); rename the binding or change the route", b, path, inv.d.display(), inv.r.where())
			}
		}
	}
}
