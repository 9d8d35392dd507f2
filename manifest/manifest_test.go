package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// parseTest parses src as m.yaml in testdata, where orders.wasm and web.wasm exist.
func parseTest(t *testing.T, src string) (*Manifest, []string) {
	t.Helper()
	m, err := Parse("m.yaml", []byte(src), "testdata")
	if err == nil {
		if m == nil {
			t.Fatal("Parse returned neither a manifest nor an error")
		}
		return m, nil
	}
	if m != nil {
		t.Errorf("Parse returned a manifest and an error")
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, not ErrorList: %v", err, err)
	}
	return nil, strings.Split(err.Error(), "\n")
}

// wantErrors checks that got has one line per want, each starting with it.
func wantErrors(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("errors:\n  %s\nwant lines starting with:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func abs(t *testing.T, path string) string {
	t.Helper()
	a, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLoadExample(t *testing.T) {
	m, err := Load("testdata/wasi-dapr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Manifest{
		File: "testdata/wasi-dapr.yaml",
		Modules: []Module{{
			Name:   "orders",
			Path:   abs(t, "testdata/orders.wasm"),
			Routes: []string{"/orders", "/orders/{id}", "/static/..."},
			Subscriptions: []Subscription{
				{PubSub: "pubsub", Topic: "orders", Route: "/events/orders", DeadLetterTopic: "orders-dead", Metadata: map[string]string{"rawPayload": "true"}},
				{PubSub: "pubsub", Topic: "refunds", Route: "/events/pubsub/refunds"},
			},
			Bindings: []string{"cron-orders"},
			Env:      map[string]string{"GREETING": "hello"},
			Limits: Limits{Timeout: 5 * time.Second, HTTPTimeout: 30 * time.Second, MaxMemory: 64 << 20, MaxBody: 4 << 20,
				Concurrency: 64, Queue: 256, AllowedHosts: []string{"http://127.0.0.1:3500"}, HasAllowedHosts: true},
		}, {
			Name:   "web",
			Path:   abs(t, "testdata/web.wasm"),
			Routes: []string{"/..."},
			Limits: Limits{Timeout: 10 * time.Second, HTTPTimeout: 30 * time.Second, MaxMemory: 16 << 20, MaxBody: 4 << 20,
				Concurrency: 8, Queue: 0},
		}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", m, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/nope.yaml")
	if err == nil || err.Error() != "testdata/nope.yaml: the manifest does not exist; check the --config path" {
		t.Errorf("Load: %v", err)
	}
}

func TestLoadResolvesPathsFromManifestDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "wasi-dapr.yaml")
	if err := os.WriteFile(cfg, []byte("modules:\n  - {name: app, path: app.wasm, routes: [/...]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Modules[0].Path; got != filepath.Join(dir, "app.wasm") {
		t.Errorf("Path = %s", got)
	}
}

func TestMergedLimits(t *testing.T) {
	builtin := Builtin
	tests := []struct {
		name     string
		defaults string // YAML lines under defaults:, indented by 2
		module   string // YAML lines of the module, indented by 4
		want     Limits
	}{
		{"builtin", "", "", builtin},
		{"defaults", "  timeout: 2s\n  maxMemory: 64MiB\n  concurrency: 4\n  queue: 0\n  maxBody: 1MB\n  httpTimeout: 500ms\n", "",
			Limits{Timeout: 2 * time.Second, MaxMemory: 64 << 20, Concurrency: 4, Queue: 0, MaxBody: 1e6, HTTPTimeout: 500 * time.Millisecond}},
		{"module over defaults", "  timeout: 2s\n  concurrency: 4\n", "    timeout: 1m30s\n    queue: 7\n    maxBody: 1048576\n",
			Limits{Timeout: 90 * time.Second, HTTPTimeout: builtin.HTTPTimeout, MaxMemory: builtin.MaxMemory, MaxBody: 1 << 20, Concurrency: 4, Queue: 7}},
		{"module only", "", "    maxMemory: 1GiB\n    concurrency: 1\n",
			Limits{Timeout: builtin.Timeout, HTTPTimeout: builtin.HTTPTimeout, MaxMemory: 1 << 30, MaxBody: builtin.MaxBody, Concurrency: 1, Queue: builtin.Queue}},
		{"allowedHosts from defaults", "  allowedHosts: [\"https://a.example\"]\n", "",
			withHosts(builtin, "https://a.example")},
		{"allowedHosts of the module replace defaults", "  allowedHosts: [\"https://a.example\"]\n", "    allowedHosts: [\"https://b.example\", \"tcp://c:1\"]\n",
			withHosts(builtin, "https://b.example", "tcp://c:1")},
		{"empty allowedHosts is the caller's default", "  allowedHosts: []\n", "", builtin},
		{"empty allowedHosts in a module cancels defaults", "  allowedHosts: [\"https://a.example\"]\n", "    allowedHosts: []\n", builtin},
		{"null allowedHosts", "  allowedHosts:\n", "", builtin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "modules:\n  - name: a\n    path: orders.wasm\n    routes: [/a]\n" + tt.module
			if tt.defaults != "" {
				src = "defaults:\n" + tt.defaults + src
			}
			m, errs := parseTest(t, src)
			if errs != nil {
				t.Fatal(strings.Join(errs, "\n"))
			}
			if got := m.Modules[0].Limits; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Limits:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func withHosts(l Limits, hosts ...string) Limits {
	l.AllowedHosts, l.HasAllowedHosts = hosts, true
	return l
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	m, errs := parseTest(t, `modules:
  - &first
    name: a
    path: orders.wasm
    routes: [/a]
    env: &env {A: "1", PORT: 8080}
    timeout: 3s
  - <<: *first
    name: b
    routes: [/b]
    env: {<<: *env, B: "2", A: x}
`)
	if errs != nil {
		t.Fatal(strings.Join(errs, "\n"))
	}
	b := m.Modules[1]
	if b.Name != "b" || b.Path != m.Modules[0].Path || !slices.Equal(b.Routes, []string{"/b"}) || b.Limits.Timeout != 3*time.Second {
		t.Errorf("b = %+v", b)
	}
	if want := map[string]string{"A": "x", "PORT": "8080", "B": "2"}; !reflect.DeepEqual(b.Env, want) {
		t.Errorf("b.Env = %v, want %v", b.Env, want)
	}
}

func TestErrors(t *testing.T) {
	const mod = "modules:\n  - name: a\n    path: orders.wasm\n" // lines 1-3
	missing := abs(t, "testdata/missing.wasm")
	tests := []struct {
		name string
		src  string
		want []string
	}{
		// The file as a whole.
		{"empty file", "", []string{"m.yaml: the manifest is empty; it needs a modules list"}},
		{"blank file", " \n\n", []string{"m.yaml: the manifest is empty"}},
		{"only comments", "# nothing\n", []string{"m.yaml: the manifest has no content"}},
		{"null document", "---\n", []string{"m.yaml:1:1: the manifest has no content"}},
		{"top level list", "- name: a\n", []string{"m.yaml:1:1: the top level must be a mapping with a modules list (and optionally defaults), not a list"}},
		{"top level scalar", "hello\n", []string{`m.yaml:1:1: the top level must be a mapping with a modules list (and optionally defaults), not "hello"`}},
		{"two documents", mod + "    routes: [/a]\n---\nmodules: []\n", []string{`m.yaml:5:1: only one YAML document is allowed; remove this "---"`}},
		{"unknown top field", "modules: []\nmodule: x\n", []string{
			"m.yaml:1:10: modules: the list is empty; add at least one module with name and path",
			"m.yaml:2:1: module: unknown field (did you mean modules?); known fields: defaults, modules",
		}},
		{"module field at top", "name: a\nmodules:\n  - {name: a, path: orders.wasm, routes: [/a]}\n", []string{
			"m.yaml:1:1: name: unknown field (module fields go in an entry of the modules list); known fields: defaults, modules",
		}},
		{"no modules", "defaults: {timeout: 1s}\n", []string{"m.yaml:1:1: modules: missing; add a list of modules"}},
		{"null modules", "modules:\n", []string{"m.yaml:1:9: modules: the list is empty"}},
		{"modules not a list", "modules: {name: a}\n", []string{"m.yaml:1:10: modules: must be a list, not a mapping"}},
		{"module not a mapping", "modules: [42]\n", []string{`m.yaml:1:11: modules[0]: a module must be a mapping with at least name and path, not "42"`}},
		{"key set twice", mod + "    routes: [/a]\n    name: b\n", []string{"m.yaml:5:5: modules[0].name: is set twice (also at line 2); keep one"}},
		{"complex key", mod + "    routes: [/a]\n    ? [x]\n    : y\n", []string{"m.yaml:5:7: modules[0]: a key must be a plain name, not a list"}},

		// Unknown fields.
		{"unknown module field", mod + "    routes: [/a]\n    colour: blue\n", []string{
			"m.yaml:5:5: modules[0].colour: unknown field; known fields: name, path, routes, subscriptions, bindings, env, args, timeout, maxMemory, concurrency, queue, maxBody, httpTimeout, allowedHosts",
		}},
		{"near miss", mod + "    routes: [/a]\n    maxmemory: 1MiB\n    max_body: 1MiB\n    Timeout: 1s\n    rutes: [/b]\n", []string{
			"m.yaml:5:5: modules[0].maxmemory: unknown field (did you mean maxMemory?); known fields: name,",
			"m.yaml:6:5: modules[0].max_body: unknown field (did you mean maxBody?)",
			"m.yaml:7:5: modules[0].Timeout: unknown field (did you mean timeout?)",
			"m.yaml:8:5: modules[0].rutes: unknown field (did you mean routes?)",
		}},
		{"subscription field in module", mod + "    routes: [/a]\n    topic: t\n", []string{
			"m.yaml:5:5: modules[0].topic: unknown field (topic goes in an entry of the subscriptions list)",
		}},
		{"module field in defaults", "defaults:\n  name: x\n" + mod + "    routes: [/a]\n", []string{
			"m.yaml:2:3: defaults.name: unknown field (only limits may be set in defaults; name goes in a module); known fields: timeout, maxMemory, concurrency, queue, maxBody, httpTimeout, allowedHosts",
		}},
		{"unknown subscription field", mod + "    subscriptions:\n      - {pubsub: p, topic: t, colour: x}\n", []string{
			"m.yaml:5:31: modules[0].subscriptions[0].colour: unknown field; known fields: pubsub, topic, route, deadLetterTopic, metadata",
		}},
		{"defaults not a mapping", "defaults: 5\n" + mod + "    routes: [/a]\n", []string{`m.yaml:1:11: defaults: must be a mapping of limits, not "5"`}},

		// Names.
		{"name missing", "modules:\n  - path: orders.wasm\n    routes: [/a]\n", []string{"m.yaml:2:5: modules[0].name: missing; add a unique name, e.g. name: orders"}},
		{"name empty", "modules:\n  - name: \"\"\n    path: orders.wasm\n    routes: [/a]\n", []string{"m.yaml:2:11: modules[0].name: must not be empty"}},
		{"name syntax", "modules:\n  - name: My Orders\n    path: orders.wasm\n    routes: [/a]\n", []string{
			`m.yaml:2:11: modules[0].name: "My Orders" is not a valid name; use lowercase letters, digits, "-" and "_", starting with a letter or digit, e.g. "my-orders"`,
		}},
		{"name starts with dash", "modules:\n  - name: -a\n    path: orders.wasm\n    routes: [/a]\n", []string{`m.yaml:2:11: modules[0].name: "-a" is not a valid name`}},
		{"name used twice", "modules:\n  - name: orders\n    path: orders.wasm\n    routes: [/a]\n  - name: orders\n    path: web.wasm\n    routes: [/b]\n", []string{
			`m.yaml:5:11: modules[1].name: "orders" is used twice (also at line 2); names must be unique`,
		}},

		// Paths.
		{"path missing", "modules:\n  - name: a\n    routes: [/a]\n", []string{"m.yaml:2:5: modules[0].path: missing; add the module file, e.g. path: ./app.wasm"}},
		{"path does not exist", "modules:\n  - name: a\n    path: ./missing.wasm\n    routes: [/a]\n", []string{
			"m.yaml:3:11: modules[0].path: ./missing.wasm does not exist (resolved to " + missing + ")",
		}},
		{"path is a directory", "modules:\n  - name: a\n    path: .\n    routes: [/a]\n", []string{
			"m.yaml:3:11: modules[0].path: . is a directory (resolved to " + abs(t, "testdata") + "); give the path of the .wasm file",
		}},
		{"path empty", "modules:\n  - name: a\n    path: ''\n    routes: [/a]\n", []string{"m.yaml:3:11: modules[0].path: must not be empty"}},
		{"path not a string", "modules:\n  - name: a\n    path: [x]\n    routes: [/a]\n", []string{"m.yaml:3:11: modules[0].path: must be a single value, not a list"}},

		// Routes.
		{"nothing routable", mod + "    routes: []\n", []string{"m.yaml:2:5: modules[0]: the module has no routes, subscriptions or bindings, so nothing can reach it; add at least one"}},
		{"routes not a list", mod + "    routes: /a\n", []string{"m.yaml:4:13: modules[0].routes: must be a list, not a single value; write [/a]"}},
		{"route errors", mod + `    routes:
      - orders
      - /a/.../b
      - /a...
      - /d//e
      - /q?x=1
      - /s p
      - ""
      - /u/{id
      - /n/{}
      - /r/{id:[}
      - /c/{id:(a|b)}
      - /w/{id}/{id}
      - /healthz
      - /dapr/subscribe
      - /metrics/...
      - /ok/{id:(?:a|b)}/...
`, []string{
			`m.yaml:5:9: modules[0].routes[0]: "orders" must start with "/"; write "/orders"`,
			`m.yaml:6:9: modules[0].routes[1]: "/a/.../b": "..." may only end a route, as "/..."`,
			`m.yaml:7:9: modules[0].routes[2]: "/a...": "..." may only end a route`,
			`m.yaml:8:9: modules[0].routes[3]: "/d//e" has an empty segment ("//")`,
			`m.yaml:9:9: modules[0].routes[4]: "/q?x=1" contains '?'; a route is a path only`,
			`m.yaml:10:9: modules[0].routes[5]: "/s p" contains a space or control character`,
			`m.yaml:11:9: modules[0].routes[6]: is empty; write a path such as "/orders"`,
			`m.yaml:12:9: modules[0].routes[7]: "/u/{id" has unbalanced braces`,
			`m.yaml:13:9: modules[0].routes[8]: "/n/{}": the variable {} has no name`,
			`m.yaml:14:9: modules[0].routes[9]: "/r/{id:[}": the regexp of {id} is invalid`,
			`m.yaml:15:9: modules[0].routes[10]: "/c/{id:(a|b)}": the regexp of {id} has a capturing group; write (?:...) instead of (...)`,
			`m.yaml:16:9: modules[0].routes[11]: "/w/{id}/{id}" uses the variable {id} twice`,
			`m.yaml:17:9: modules[0].routes[12]: "/healthz" is served by the host itself (/dapr/..., /healthz, /metrics)`,
			`m.yaml:18:9: modules[0].routes[13]: "/dapr/subscribe" is served by the host itself`,
			`m.yaml:19:9: modules[0].routes[14]: "/metrics/..." is served by the host itself`,
		}},
		{"route listed twice in a module", mod + "    routes: [/x, /y, /x, \"/v/{id}\", \"/v/{key}\"]\n", []string{
			`m.yaml:4:22: modules[0].routes[2]: "/x" is listed twice (also at line 4); remove one`,
			`m.yaml:4:37: modules[0].routes[4]: "/v/{key}" is the same route as "/v/{id}" (line 4); remove one`,
		}},
		{"route in two modules", mod + "    routes: [/x, \"/v/{id}\", /p/...]\n  - name: b\n    path: web.wasm\n    routes: [/x, \"/v/{other}\", /p/...]\n", []string{
			`m.yaml:7:14: modules[1].routes[0]: "/x" is also a route of module "a" (line 4); a route can belong to one module only`,
			`m.yaml:7:18: modules[1].routes[1]: "/v/{other}" is the same route as "/v/{id}" of module "a" (line 4); a route can belong to one module only`,
			`m.yaml:7:32: modules[1].routes[2]: "/p/..." is also a route of module "a" (line 4)`,
		}},
		{"route shadowed by an earlier module", `modules:
  - name: web
    path: web.wasm
    routes: ["/...", /static/..., "/orders/{id:[0-9]+}"]
  - name: api
    path: orders.wasm
    routes: [/, /static/css/..., "/static/{f}", /orders/12]
  - name: c
    path: orders.wasm
    routes: [/staticx]
`, []string{
			`m.yaml:7:14: modules[1].routes[0]: "/" is never reached: route "/..." of module "web" (line 4), listed earlier, matches it first; list module "api" before module "web", or narrow "/..."`,
			`m.yaml:7:17: modules[1].routes[1]: "/static/css/..." is never reached: route "/..." of module "web"`,
			`m.yaml:7:34: modules[1].routes[2]: "/static/{f}" is never reached: route "/..." of module "web"`,
			`m.yaml:7:49: modules[1].routes[3]: "/orders/12" is never reached: route "/..." of module "web"`,
			`m.yaml:10:14: modules[2].routes[0]: "/staticx" is never reached: route "/..." of module "web"`,
		}},
		{"narrower earlier routes", `modules:
  - name: a
    path: web.wasm
    routes: [/static/..., "/orders/{id:[0-9]+}"]
  - name: b
    path: orders.wasm
    routes: [/static, /staticx, /static2/..., "/static/{f}", /orders/12, /orders/new]
`, []string{
			`m.yaml:7:14: modules[1].routes[0]: "/static" is never reached: route "/static/..." of module "a" (line 4), listed earlier, matches it first; list module "b" before module "a", or narrow "/static/..."`,
			`m.yaml:7:47: modules[1].routes[3]: "/static/{f}" is never reached: route "/static/..." of module "a"`,
			`m.yaml:7:62: modules[1].routes[4]: "/orders/12" is never reached: route "/orders/{id:[0-9]+}" of module "a"`,
		}},

		// Subscriptions.
		{"subscription errors", mod + `    routes: [/orders]
    subscriptions:
      - topic: t
      - pubsub: p
      - pubsub: a/b
        topic: t1
      - pubsub: ps
        topic: a b
      - pubsub: ps
        topic: t2
        route: "/x/{id}"
      - pubsub: ps
        topic: t3
        route: /x/...
      - pubsub: ps
        topic: t4
        route: events
      - pubsub: ps
        topic: t5
        deadLetterTopic: t5
      - pubsub: ps
        topic: t6
        route: /dapr/subscribe
      - [x]
      - pubsub: ps
        topic: t7
        metadata: [x]
`, []string{
			"m.yaml:6:9: modules[0].subscriptions[0].pubsub: is required; add the name of a Dapr pub/sub component, e.g. pubsub: pubsub",
			"m.yaml:7:9: modules[0].subscriptions[1].topic: is required; add the topic, e.g. topic: orders",
			`m.yaml:8:17: modules[0].subscriptions[2].pubsub: "a/b" is not a pub/sub component name`,
			`m.yaml:10:9: modules[0].subscriptions[3].route: the default route is not usable: "/events/ps/a b" contains a space or control character; percent-encode it (e.g. %20); set route explicitly`,
			`m.yaml:14:16: modules[0].subscriptions[4].route: "/x/{id}" must be a literal path, without {variables}`,
			`m.yaml:17:16: modules[0].subscriptions[5].route: "/x/..." must be a literal path, without "..."`,
			`m.yaml:20:16: modules[0].subscriptions[6].route: "events" must start with "/"; write "/events"`,
			`m.yaml:23:26: modules[0].subscriptions[7].deadLetterTopic: "t5" is the topic itself, so dead letters would be delivered again; use another topic, e.g. "t5-dead"`,
			`m.yaml:26:16: modules[0].subscriptions[8].route: "/dapr/subscribe" is served by the host itself`,
			"m.yaml:27:9: modules[0].subscriptions[9]: a subscription must be a mapping with pubsub and topic, not a list",
			"m.yaml:30:19: modules[0].subscriptions[10].metadata: must be a mapping of names to values, not a list",
		}},
		{"topic subscribed twice", mod + `    subscriptions:
      - {pubsub: pubsub, topic: orders}
      - {pubsub: pubsub, topic: orders, route: /other}
  - name: b
    path: web.wasm
    subscriptions:
      - {pubsub: pubsub, topic: orders, route: /b}
      - {pubsub: other, topic: orders}
`, []string{
			`m.yaml:6:9: modules[0].subscriptions[1]: pubsub "pubsub" topic "orders" is subscribed twice (also at line 5); remove one`,
			`m.yaml:10:9: modules[1].subscriptions[0]: pubsub "pubsub" topic "orders" is already subscribed by module "a" (line 5); a topic can be delivered to one module only`,
		}},
		{"subscription routes clash", mod + `    routes: [/orders, /events/pubsub/b, "/events/{x}/c"]
    subscriptions:
      - {pubsub: pubsub, topic: a, route: /orders}
      - {pubsub: pubsub, topic: b}
      - {pubsub: pubsub, topic: c}
      - {pubsub: pubsub, topic: d, route: /hook}
  - name: b
    path: web.wasm
    subscriptions:
      - {pubsub: pubsub, topic: e, route: /hook}
      - {pubsub: pubsub, topic: f, route: /events/pubsub/a}
`, []string{
			`m.yaml:6:43: modules[0].subscriptions[0].route: the route "/orders" is also an invocation route of module "a" (line 4); set the subscription's route to another path`,
			`m.yaml:7:9: modules[0].subscriptions[1].route: the default route "/events/pubsub/b" is also an invocation route of module "a" (line 4)`,
			`m.yaml:13:43: modules[1].subscriptions[0].route: the route "/hook" is also the route of subscription pubsub/d of module "a" (line 9); give each subscription its own route`,
		}},

		// Bindings.
		{"binding errors", mod + "    routes: [/orders]\n    bindings: [cron, a/b, dapr, healthz, metrics, \"..\", \"\", cron, orders, x.y_z-1]\n", []string{
			`m.yaml:5:22: modules[0].bindings[1]: "a/b" is not a valid binding name: daprd delivers it to POST /<name>, so use only letters, digits, "-", "_" and "."`,
			`m.yaml:5:27: modules[0].bindings[2]: "dapr" is reserved: POST /dapr is served by the host itself; rename the binding component`,
			`m.yaml:5:33: modules[0].bindings[3]: "healthz" is reserved`,
			`m.yaml:5:42: modules[0].bindings[4]: "metrics" is reserved`,
			`m.yaml:5:51: modules[0].bindings[5]: ".." is not a valid binding name`,
			`m.yaml:5:57: modules[0].bindings[6]: is empty; write the name of a Dapr input binding component`,
			`m.yaml:5:61: modules[0].bindings[7]: "cron" is listed twice (also at line 5); remove one`,
			`m.yaml:5:67: modules[0].bindings[8]: binding "orders" is delivered to POST /orders, which is also an invocation route of module "a" (line 4); rename the binding or change the route`,
		}},
		{"binding in two modules", mod + "    bindings: [cron]\n  - name: b\n    path: web.wasm\n    subscriptions: [{pubsub: p, topic: t, route: /hook}]\n    bindings: [cron, hook]\n", []string{
			`m.yaml:8:16: modules[1].bindings[0]: "cron" is also a binding of module "a" (line 4); an input binding is delivered to one module only`,
			`m.yaml:8:22: modules[1].bindings[1]: binding "hook" is delivered to POST /hook, which is also the route of subscription p/t of module "b" (line 7); rename one`,
		}},

		// Limits.
		{"durations", "defaults:\n  timeout: ten\n  httpTimeout: 10\n" + mod + "    routes: [/a]\n    timeout: 0s\n    httpTimeout: -1s\n", []string{
			`m.yaml:2:12: defaults.timeout: "ten" is not a duration; use e.g. 500ms, 10s`,
			`m.yaml:3:16: defaults.httpTimeout: "10" is not a duration; add a unit, e.g. 10s or 10ms`,
			`m.yaml:8:14: modules[0].timeout: "0s" must be greater than 0; use e.g. 500ms, 10s`,
			`m.yaml:9:18: modules[0].httpTimeout: "-1s" must be greater than 0`,
		}},
		{"sizes", "defaults:\n  maxMemory: 1KiB\n  maxBody: 64mb\n" + mod + "    routes: [/a]\n    maxBody: 0\n    maxMemory: 99999999999999GiB\n    timeout: [1]\n", []string{
			`m.yaml:2:14: defaults.maxMemory: "1KiB" is less than one WebAssembly page (64KiB); use e.g. 64MiB`,
			`m.yaml:3:12: defaults.maxBody: "64mb" is not a size; units are case-sensitive: did you mean 64MB?`,
			`m.yaml:8:14: modules[0].maxBody: "0" must be greater than 0; use e.g. 64MiB, 4MB or a byte count like 1048576`,
			`m.yaml:9:16: modules[0].maxMemory: "99999999999999GiB" is too large`,
			`m.yaml:10:14: modules[0].timeout: must be a single value, not a list`,
		}},
		{"counts", "defaults:\n  concurrency: 0\n  queue: -1\n" + mod + "    routes: [/a]\n    concurrency: many\n    queue: 1.5\n", []string{
			"m.yaml:2:16: defaults.concurrency: 0 must be at least 1",
			"m.yaml:3:10: defaults.queue: -1 must be 0 or more",
			`m.yaml:8:18: modules[0].concurrency: "many" is not a whole number; e.g. concurrency: 64`,
			`m.yaml:9:12: modules[0].queue: "1.5" is not a whole number`,
		}},
		{"allowedHosts", mod + "    routes: [/a]\n    allowedHosts: [\"http://a\", {x: y}, \"\", 8080]\n  - name: b\n    path: web.wasm\n    routes: [/b]\n    allowedHosts: http://a\n", []string{
			`m.yaml:5:32: modules[0].allowedHosts[1]: must be a single value, not a mapping`,
			`m.yaml:5:40: modules[0].allowedHosts[2]: is empty; write a destination such as "http://127.0.0.1:3500"`,
			`m.yaml:9:19: modules[1].allowedHosts: must be a list, not a single value; write [http://a]`,
		}},

		// Env and args.
		{"env and args", mod + "    routes: [/a]\n    env: {GREETING: hello, \"A=B\": x, \"\": y, LIST: [1]}\n    args: [1, {x: y}]\n  - name: b\n    path: web.wasm\n    routes: [/b]\n    env: [A=B]\n", []string{
			`m.yaml:5:28: modules[0].env["A=B"]: variable name "A=B" must not contain "=" or NUL`,
			`m.yaml:5:38: modules[0].env[""]: a variable name must not be empty`,
			`m.yaml:5:51: modules[0].env.LIST: must be a single value, not a list`,
			`m.yaml:6:15: modules[0].args[1]: must be a single value, not a mapping`,
			`m.yaml:10:10: modules[1].env: must be a mapping of names to values, not a list; e.g. {GREETING: hello}`,
		}},
		{"bad merge key", mod + "    routes: [/a]\n    <<: {bogus: 1}\n    env:\n      <<: 3\n", []string{
			"m.yaml:5:10: modules[0].bogus: unknown field",
			`m.yaml:7:11: modules[0].env.<<: a merge key must name mappings (<<: *base or <<: [*a, *b]), not "3"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := parseTest(t, tt.src)
			wantErrors(t, errs, tt.want)
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unclosed list", "modules:\n  - name: a\n    path: orders.wasm\n    routes: [/a\n",
			"m.yaml:4: YAML syntax error: did not find expected ',' or ']'; a [...] list from this line on is not closed"},
		{"braces in a flow list", "modules:\n  - name: a\n    path: orders.wasm\n    routes: [/orders, /orders/{id}]\n",
			`m.yaml:4: YAML syntax error: did not find expected ',' or ']'; a [...] list from this line on is not closed with "]" or has an item that needs quotes, e.g. "/orders/{id}"`},
		{"tab", "modules:\n\t- name: a\n", "m.yaml:2: YAML syntax error: found character that cannot start any token; indent with spaces, not tabs"},
		{"colon in a value", "modules:\n  - name: a\n    path: orders.wasm\n    env: {X: a: b}\n", "m.yaml:4: YAML syntax error: did not find expected ',' or '}'"},
		{"bad indentation", "modules:\n  - name: a\n    path: orders.wasm\n      routes: [/b]\n", "m.yaml:4: YAML syntax error: mapping values are not allowed in this context"},
		{"unclosed quote", "modules:\n  - name: a\n    path: 'orders.wasm\n", "m.yaml:3: YAML syntax error: found unexpected end of stream; a quoted value is not closed"},
		{"first line", "modules: [\n", "m.yaml:1: YAML syntax error: did not find expected node content"},
		{"unknown anchor", "modules: *nope\n", "m.yaml: YAML syntax error: unknown anchor 'nope' referenced"},
		{"control character", "modules: \x01\n", "m.yaml: YAML syntax error: control characters are not allowed"},
		{"later document", "modules: []\n---\nx: [\n", "m.yaml:3: YAML syntax error: did not find expected node content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := parseTest(t, tt.src)
			wantErrors(t, errs, []string{tt.want})
		})
	}
}

// One pass reports every problem, sorted by line, with positions and field paths in each Error.
func TestAllErrorsReported(t *testing.T) {
	src := `defaults:
  timeout: ten
modules:
  - name: orders
    path: ./missing.wasm
    routes: [/orders]
    colour: blue
  - name: orders
    path: orders.wasm
    routes: [/orders, shipments]
    subscriptions:
      - pubsub: pubsub
    bindings: [healthz]
    concurrency: 0
`
	_, err := Parse("wasi-dapr.yaml", []byte(src), "testdata")
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %T %v", err, err)
	}
	want := []string{
		`wasi-dapr.yaml:2:12: defaults.timeout: "ten" is not a duration; use e.g. 500ms, 10s`,
		"wasi-dapr.yaml:5:11: modules[0].path: ./missing.wasm does not exist (resolved to " + abs(t, "testdata/missing.wasm") + ")",
		"wasi-dapr.yaml:7:5: modules[0].colour: unknown field; known fields: name, path, routes, subscriptions, bindings, env, args, timeout, maxMemory, concurrency, queue, maxBody, httpTimeout, allowedHosts",
		`wasi-dapr.yaml:8:11: modules[1].name: "orders" is used twice (also at line 4); names must be unique`,
		`wasi-dapr.yaml:10:14: modules[1].routes[0]: "/orders" is also a route of module "orders" (line 6); a route can belong to one module only`,
		`wasi-dapr.yaml:10:23: modules[1].routes[1]: "shipments" must start with "/"; write "/shipments"`,
		"wasi-dapr.yaml:12:9: modules[1].subscriptions[0].topic: is required; add the topic, e.g. topic: orders",
		`wasi-dapr.yaml:13:16: modules[1].bindings[0]: "healthz" is reserved: POST /healthz is served by the host itself; rename the binding component`,
		"wasi-dapr.yaml:14:18: modules[1].concurrency: 0 must be at least 1",
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if len(list) != len(want) {
		t.Fatalf("%d errors in the list, want %d", len(list), len(want))
	}
	if e := list[3]; *e != (Error{File: "wasi-dapr.yaml", Line: 8, Column: 11, Field: "modules[1].name", Msg: `"orders" is used twice (also at line 4); names must be unique`}) {
		t.Errorf("list[3] = %+v", *e)
	}
	var one *Error
	if !errors.As(err, &one) || one != list[0] {
		t.Errorf("errors.As(*Error) = %v", one)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		err  string
	}{
		{"1048576", 1 << 20, ""},
		{"64KiB", 64 << 10, ""},
		{"16MiB", 16 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"64Mi", 64 << 20, ""},
		{"4MB", 4e6, ""},
		{"4kB", 4e3, ""},
		{"4KB", 4e3, ""},
		{"1GB", 1e9, ""},
		{"512B", 512, ""},
		{" 64 MiB ", 64 << 20, ""},
		{"1.5KiB", 1536, ""},
		{"0", 0, ""},
		{"", 0, "use e.g. 64MiB"},
		{"lots", 0, "use e.g. 64MiB"},
		{"-1", 0, "use e.g. 64MiB"},
		{"1.2.3MiB", 0, "use e.g. 64MiB"},
		{"64mb", 0, "units are case-sensitive: did you mean 64MB?"},
		{"64mib", 0, "units are case-sensitive: did you mean 64MiB?"},
		{"64 furlongs", 0, `unknown unit "furlongs"`},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, "too large"},
		{"8388608TiB", 0, "too large"},
		{"9999999999999999999.5GiB", 0, "too large"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.err == "" && (err != nil || got != tt.want) || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
	for in, want := range map[Size]string{64 << 20: "64MiB", 1 << 30: "1GiB", 1536: "1536B", 4e6: "4000000B", 0: "0B", 2 << 40: "2TiB"} {
		if got := in.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(in), got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"500ms": 500 * time.Millisecond, "10s": 10 * time.Second, "1m30s": 90 * time.Second, " 2h ": 2 * time.Hour, "0": 0} {
		if got, err := ParseDuration(in); err != nil || time.Duration(got) != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for in, want := range map[string]string{"ten": "use e.g. 500ms, 10s", "10": "add a unit, e.g. 10s", "1.5": "add a unit", "": "use e.g."} {
		if _, err := ParseDuration(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseDuration(%q) error = %v, want %q", in, err, want)
		}
	}
	if got := Duration(90 * time.Second).String(); got != "1m30s" {
		t.Errorf("String = %q", got)
	}
}

func TestUnmarshalYAML(t *testing.T) {
	var v struct {
		Size Size     `yaml:"size"`
		Dur  Duration `yaml:"dur"`
	}
	if err := yaml.Unmarshal([]byte("size: 16MiB\ndur: 1500ms\n"), &v); err != nil || v.Size != 16<<20 || v.Dur != Duration(1500*time.Millisecond) {
		t.Errorf("Unmarshal = %+v, %v", v, err)
	}
	if err := yaml.Unmarshal([]byte("size: 1048576\n"), &v); err != nil || v.Size != 1<<20 {
		t.Errorf("Unmarshal = %+v, %v", v, err)
	}
	for _, src := range []string{"size: 16mb\n", "size: [1]\n", "dur: ten\n", "dur: {a: b}\n"} {
		if err := yaml.Unmarshal([]byte(src), &v); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("Unmarshal(%q) error = %v", src, err)
		}
	}
}

func TestSingle(t *testing.T) {
	wasm := "testdata/orders.wasm"
	path := abs(t, wasm)
	given := Limits{Timeout: 3 * time.Second, HTTPTimeout: time.Second, MaxMemory: 1 << 20, MaxBody: 1 << 10, Concurrency: 2, Queue: 0}
	tests := []struct {
		name     string
		path     string
		routes   []string
		subs     []Subscription
		bindings []string
		limits   Limits
		want     *Module
		errs     []string
	}{
		{name: "defaults", path: wasm, want: &Module{Name: "orders", Path: path, Routes: []string{"/..."},
			Limits: Limits{Timeout: Builtin.Timeout, HTTPTimeout: Builtin.HTTPTimeout, MaxMemory: Builtin.MaxMemory, MaxBody: Builtin.MaxBody, Concurrency: Builtin.Concurrency}}},
		{name: "everything", path: path, routes: []string{"/orders", "/orders/{id}"},
			subs:     []Subscription{{PubSub: "pubsub", Topic: "orders"}, {PubSub: "pubsub", Topic: "refunds", Route: "/refunds", Metadata: map[string]string{"rawPayload": "true"}}},
			bindings: []string{"cron"}, limits: withHosts(given, "https://a.example"),
			want: &Module{Name: "orders", Path: path, Routes: []string{"/orders", "/orders/{id}"},
				Subscriptions: []Subscription{{PubSub: "pubsub", Topic: "orders", Route: "/events/pubsub/orders"}, {PubSub: "pubsub", Topic: "refunds", Route: "/refunds", Metadata: map[string]string{"rawPayload": "true"}}},
				Bindings:      []string{"cron"}, Limits: withHosts(given, "https://a.example")}},
		{name: "no invocation routes", path: wasm, routes: []string{}, bindings: []string{"cron"},
			want: &Module{Name: "orders", Path: path, Bindings: []string{"cron"}, Limits: Limits{Timeout: Builtin.Timeout, HTTPTimeout: Builtin.HTTPTimeout, MaxMemory: Builtin.MaxMemory, MaxBody: Builtin.MaxBody, Concurrency: Builtin.Concurrency}}},
		{name: "subscriptions under a catch-all", path: wasm, subs: []Subscription{{PubSub: "p", Topic: "t"}},
			want: &Module{Name: "orders", Path: path, Routes: []string{"/..."}, Subscriptions: []Subscription{{PubSub: "p", Topic: "t", Route: "/events/p/t"}},
				Limits: Limits{Timeout: Builtin.Timeout, HTTPTimeout: Builtin.HTTPTimeout, MaxMemory: Builtin.MaxMemory, MaxBody: Builtin.MaxBody, Concurrency: Builtin.Concurrency}}},
		{name: "errors", path: "testdata/missing.wasm",
			routes:   []string{"orders", "/a", "/a"},
			subs:     []Subscription{{Topic: "t"}, {PubSub: "p", Topic: "t", Route: "/a"}, {PubSub: "p", Topic: "t"}},
			bindings: []string{"dapr", "x y"},
			limits:   Limits{Timeout: -time.Second, MaxMemory: 100, Concurrency: -1, Queue: -1, AllowedHosts: []string{""}},
			errs: []string{
				"path: testdata/missing.wasm does not exist (resolved to " + abs(t, "testdata/missing.wasm") + ")",
				`routes[0]: "orders" must start with "/"; write "/orders"`,
				`subscriptions[0].pubsub: is required`,
				`bindings[0]: "dapr" is reserved`,
				`bindings[1]: "x y" is not a valid binding name`,
				"timeout: -1s must be > 0",
				"maxMemory: 100 bytes is less than one WebAssembly page; use at least 64KiB",
				"concurrency: -1 must be > 0",
				"queue: -1 must be 0 or more",
				`allowedHosts[0]: is empty`,
				`routes[2]: "/a" is listed twice (also at routes[1]); remove one`,
				`subscriptions[1].route: the route "/a" is also an invocation route of module "missing" (routes[1])`,
				`subscriptions[2]: pubsub "p" topic "t" is subscribed twice (also at subscriptions[1]); remove one`,
			}},
		{name: "nothing routable", path: wasm, routes: []string{}, errs: []string{"the module has no routes, subscriptions or bindings"}},
		{name: "empty path", path: "", errs: []string{"path: must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Single(tt.path, tt.routes, tt.subs, tt.bindings, tt.limits)
			if tt.errs != nil {
				if err == nil {
					t.Fatalf("no error; manifest %+v", m)
				}
				wantErrors(t, strings.Split(err.Error(), "\n"), tt.errs)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.File != "" || len(m.Modules) != 1 || !reflect.DeepEqual(&m.Modules[0], tt.want) {
				t.Errorf("Single:\n got %+v\nwant %+v", m, tt.want)
			}
		})
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"orders": "orders", "Hello World": "hello-world", "my_mod-1": "my_mod-1", "--x--": "x",
		"_a": "a", "ünïcode": "n-code", "": "module", "...": "module", "a..b": "a-b",
	} {
		got := sanitizeName(in)
		if got != want || !validName.MatchString(got) {
			t.Errorf("sanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}
