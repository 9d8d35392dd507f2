// Package manifest reads and validates the manifest of `wasi-dapr-host serve --config wasi-dapr.yaml`:
// the list of WebAssembly (WASI) modules the host serves as one Dapr app, which invocation routes,
// pub/sub topics and input bindings each one claims, and the limits each one runs under.
//
// # File format
//
//	# wasi-dapr.yaml
//	defaults:                      # optional; applies to every module unless the module overrides
//	  timeout: 10s                 # per-request wall clock
//	  maxMemory: 64MiB             # guest linear memory cap
//	  concurrency: 64              # instances running at once per module
//	  queue: 256                   # requests waiting for a slot per module; beyond it: 503 / RETRY
//	  maxBody: 4MiB                # request body cap
//	  httpTimeout: 30s             # guest outbound request timeout
//	  allowedHosts: []             # default: the sidecar only
//	modules:
//	  - name: orders               # required, unique, [a-z0-9][a-z0-9-_]* ; used in logs/metrics
//	    path: ./orders.wasm        # required; relative to the manifest file's directory; must exist (checked at load)
//	    routes:                    # invocation method patterns (optional)
//	      - /orders                #   exact
//	      - /orders/{id}           #   gorilla/mux-style variables
//	      - /static/...            #   trailing "/..." = the prefix and everything below (WAGI style)
//	    subscriptions:
//	      - pubsub: pubsub         # required
//	        topic: orders          # required
//	        route: /events/orders  # optional; default "/events/<pubsub>/<topic>"
//	        deadLetterTopic: orders-dead   # optional
//	        metadata: {rawPayload: "true"} # optional map[string]string
//	    bindings: [cron-orders]    # input binding names; delivered to POST /<name>
//	    env: {GREETING: hello}     # guest environment, map[string]string
//	    args: []                   # extra argv after the module name (optional)
//	    allowedHosts: ["http://127.0.0.1:3500"]  # optional; replaces defaults.allowedHosts
//	    timeout: 5s                # any of the defaults keys may appear per module
//
// When neither the module nor defaults set a limit, the builtin value applies (see [Builtin]):
// timeout 10s, maxMemory 256MiB, concurrency 64, queue 256, maxBody 4MiB, httpTimeout 30s, and no
// allowedHosts (Limits.HasAllowedHosts false: the caller applies its own default, the sidecar only).
// allowedHosts: [] is that default too, so a module can cancel a defaults.allowedHosts list with it.
// allowedHosts entries are kept as written; the caller checks them with its allow-list.
//
// Sizes are byte counts (1048576) or a number with a unit: B, KiB, MiB, GiB, TiB (powers of 1024, also
// written Ki, Mi, Gi, Ti) or kB/KB, MB, GB, TB (powers of 1000). Durations are Go durations with a unit
// ("500ms", "10s", "1m30s"). Both must be greater than zero; maxMemory must be at least 64KiB, one
// WebAssembly page. concurrency must be at least 1 and queue 0 or more.
//
// # Routing
//
// The host registers, in this order, the subscription routes and binding routes (POST /<name>) of every
// module, then the invocation routes of module after module, and the first match wins. So the
// manifest is checked for everything that would make a request reach the wrong module or none:
//
//   - a route, a subscription route or a binding name claimed twice, in one module or in two
//     ("/orders/{id}" and "/orders/{key}" are the same route);
//   - a subscription route or a binding route that is also an invocation route;
//   - an invocation route that an earlier module's route already matches completely (for example
//     "/api/users" after another module's "/..."): list the more specific module first;
//   - a (pubsub, topic) pair subscribed twice;
//   - paths the host serves itself: /dapr/..., /healthz and /metrics.
//
// Subscription routes are literal paths (no {variables}, no "/..."). Route variables follow gorilla/mux:
// {name} matches one path segment, {name:regexp} matches regexp, which must not contain capturing
// groups (write (?:a|b)). A module that claims no route, subscription or binding can never run and is
// an error.
//
// # Errors
//
// [Parse] and [Load] report every problem they find, not just the first, as an [ErrorList]: one
// [Error] per line, sorted by line, each naming the file, the line and column, the field path and how to
// fix it:
//
//	wasi-dapr.yaml:7:14: modules[0].timeout: "ten" is not a duration; use e.g. 500ms, 10s
//	wasi-dapr.yaml:12:11: modules[1].name: "orders" is used twice (also at line 4); names must be unique
//
// Unknown fields are errors. YAML anchors, aliases and merge keys (<<: *base) may be used. Values of
// env, metadata, args and allowedHosts are strings; numbers and booleans are taken as written
// (PORT: 8080 is "8080"). allowedHosts entries are not parsed here: the caller checks them with its
// allow-list package.
//
// [Single] builds the one-module manifest of `serve --module FILE` with the same checks.
package manifest
