package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, and that what it returns is consistent: a manifest with
// valid modules, or errors that name the file and come sorted by line.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(string(data))
		}
	}
	for _, s := range []string{
		"", "---\n", "modules: []\n", "- a\n", "modules: *x\n", "a: &a {<<: *a}\nmodules: [*a]\n",
		"modules:\n  - &m {name: a, path: orders.wasm, routes: [/a], <<: *m}\n",
		"modules:\n  - {name: a, path: orders.wasm, routes: [\"/{a:(?:x)}/...\", \"/{\"], subscriptions: [{pubsub: p, topic: t}], bindings: [b]}\n",
		"defaults: {timeout: 1s, maxMemory: 1Ti, concurrency: 9999999999999999999999, allowedHosts: [a]}\nmodules: [{name: a, path: web.wasm, bindings: [x]}]\n",
		"modules:\n  - name: a\n    path: orders.wasm\n    <<: [*x]\n",
		"modules:\n\t- x\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		m, err := Parse("f.yaml", []byte(src), "testdata")
		if err == nil {
			if m == nil || len(m.Modules) == 0 {
				t.Fatalf("no error and no modules: %+v", m)
			}
			for _, mod := range m.Modules {
				if !validName.MatchString(mod.Name) || !filepath.IsAbs(mod.Path) || mod.Limits.Concurrency < 1 || mod.Limits.Queue < 0 ||
					mod.Limits.Timeout <= 0 || mod.Limits.HTTPTimeout <= 0 || mod.Limits.MaxMemory < minMemory || mod.Limits.MaxBody <= 0 {
					t.Fatalf("invalid module accepted: %+v", mod)
				}
				for _, s := range mod.Subscriptions {
					if !strings.HasPrefix(s.Route, "/") {
						t.Fatalf("subscription route %q", s.Route)
					}
				}
			}
			return
		}
		list, ok := err.(ErrorList)
		if !ok || len(list) == 0 || m != nil {
			t.Fatalf("error %T %v with manifest %v", err, err, m)
		}
		for i, e := range list {
			if e.File != "f.yaml" || e.Msg == "" || !strings.HasPrefix(e.Error(), "f.yaml") {
				t.Fatalf("error without file or message: %+v", e)
			}
			if i > 0 && e.Line < list[i-1].Line {
				t.Fatalf("errors not sorted by line:\n%v", err)
			}
		}
	})
}
