package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	dfparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/daprclient"
	"github.com/wasi-dapr-host/wasi-dapr-host/manifest"
)

const (
	// appID is the Dapr app id of the order service in every setup (the READMEs' curl commands use it).
	appID = "orders"
	// sampleManifest is the serve manifest of the AssemblyScript order service, which the image ships.
	sampleManifest = "samples/assemblyscript/wasi-dapr.yaml"
	// hostBinary is the command the image's ENTRYPOINT names.
	hostBinary = "wasi-dapr-host"
	// daprdBinary is where the official daprio/daprd images keep daprd (they have no ENTRYPOINT).
	daprdBinary = "/daprd"
	// k8sSidecarHTTPPort is the HTTP port of the sidecar the Dapr injector adds; it also sets
	// DAPR_HTTP_PORT to it in the app container.
	k8sSidecarHTTPPort = 3500
	// measuredPeakRSS is the host's peak RSS serving 64 requests at once (make bench, BenchmarkPeakRSS).
	measuredPeakRSS = 57 << 20
	// debianPath is the PATH of the Debian base images, for the ENTRYPOINT lookup.
	debianPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// ---------------------------------------------------------------------------------------------------
// The repository and the host's own defaults.

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.Contains(data, []byte("module github.com/wasi-dapr-host/wasi-dapr-host\n")) {
		t.Fatalf("%s is not the repository root (the go.mod of github.com/wasi-dapr-host/wasi-dapr-host): %v", root, err)
	}
	return root
}

// serveDefaults are what cmd/wasi-dapr-host/serve.go falls back to, read from its source because
// package main cannot be imported: the literals assigned to c.AppPort and c.AppProtocol when neither a
// flag nor the environment sets them, and the variables it reads with os.Getenv.
type serveDefaults struct {
	appPort     int
	appProtocol string
	getenv      map[string]bool
}

func readServeDefaults(t testing.TB, root string) serveDefaults {
	t.Helper()
	file := filepath.Join(root, "cmd", "wasi-dapr-host", "serve.go")
	f, err := goparser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	d := serveDefaults{getenv: map[string]bool{}}
	ports, protocols := 0, 0
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if len(n.Lhs) != 1 || len(n.Rhs) != 1 {
				return true
			}
			sel, ok1 := n.Lhs[0].(*ast.SelectorExpr)
			lit, ok2 := n.Rhs[0].(*ast.BasicLit)
			if !ok1 || !ok2 {
				return true
			}
			switch {
			case sel.Sel.Name == "AppPort" && lit.Kind == token.INT:
				d.appPort, _ = strconv.Atoi(lit.Value)
				ports++
			case sel.Sel.Name == "AppProtocol" && lit.Kind == token.STRING:
				d.appProtocol, _ = strconv.Unquote(lit.Value)
				protocols++
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Getenv" || len(n.Args) != 1 {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "os" {
				if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					d.getenv[s] = true
				}
			}
		}
		return true
	})
	if ports != 1 || protocols != 1 || d.appPort == 0 || d.appProtocol == "" {
		t.Fatalf("%s: want exactly one `c.AppPort = <port>` and one `c.AppProtocol = \"<protocol>\"` default; found %d and %d "+
			"(update readServeDefaults if serve.go changed how it defaults them)", file, ports, protocols)
	}
	for _, k := range []string{"APP_PORT", "APP_PROTOCOL"} {
		if !d.getenv[k] {
			t.Fatalf("%s no longer reads %s (as `dapr run` sets it); the deployment files rely on it", file, k)
		}
	}
	return d
}

// flagValue is the value of the last --name flag in args, in any form Go's flag package accepts
// (-name v, --name v, -name=v, --name=v).
func flagValue(args []string, name string) (string, bool) {
	val, found := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		n := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if n == a {
			continue
		}
		if k, v, ok := strings.Cut(n, "="); ok {
			if k == name {
				val, found = v, true
			}
			continue
		}
		if n == name && i+1 < len(args) {
			val, found = args[i+1], true
			i++
		}
	}
	return val, found
}

// hostServe is what `wasi-dapr-host serve` makes of a container's arguments and environment.
type hostServe struct {
	appPort     int
	appProtocol string
	config      string             // the manifest: --config or WASI_DAPR_CONFIG
	sidecar     daprclient.Sidecar // where the host reaches daprd
	allow       []string           // the guests' default allow-list: the sidecar
}

// resolveServe resolves them as serveCommand does: the flag, else WASI_DAPR_<NAME>, else (port and
// protocol) the variable `dapr run` sets, else the built-in default; the sidecar and the allow-list with
// the host's own packages.
func resolveServe(t testing.TB, d serveDefaults, args []string, env map[string]string) hostServe {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("the host's arguments are %q: want serve ...", args)
	}
	flags := args[1:]
	pick := func(flag string, vars ...string) (string, string) {
		if v, ok := flagValue(flags, flag); ok {
			return v, "--" + flag
		}
		for _, k := range vars {
			if v, ok := env[k]; ok && v != "" {
				return v, k
			}
		}
		return "", ""
	}
	h := hostServe{appPort: d.appPort, appProtocol: d.appProtocol}
	if v, from := pick("app-port", "WASI_DAPR_APP_PORT", "APP_PORT"); from != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			t.Fatalf("%s=%q is not a port number", from, v)
		}
		h.appPort = p
	}
	if v, from := pick("app-protocol", "WASI_DAPR_APP_PROTOCOL", "APP_PROTOCOL"); from != "" {
		if v != "http" && v != "grpc" {
			t.Fatalf("%s=%q: the host takes http or grpc", from, v)
		}
		h.appProtocol = v
	}
	h.config, _ = pick("config", "WASI_DAPR_CONFIG")
	getenv := func(k string) string { return env[k] }
	var err error
	if h.sidecar, err = daprclient.FromEnv(getenv); err != nil {
		t.Fatalf("the host would refuse the sidecar settings: %v", err)
	}
	if h.allow, err = allowlist.Sidecar(getenv); err != nil {
		t.Fatalf("the host would refuse the sidecar settings: %v", err)
	}
	return h
}

// sidecarPort is the port of the host's sidecar endpoint, which must be on the loopback interface:
// the sidecar shares the app's network namespace in both setups.
func sidecarPort(t testing.TB, h hostServe) int {
	t.Helper()
	rest, ok := strings.CutPrefix(h.sidecar.HTTPEndpoint, "http://127.0.0.1:")
	p, err := strconv.Atoi(rest)
	if !ok || err != nil {
		t.Fatalf("the host reaches daprd at %s: want http://127.0.0.1:<port>, the sidecar in its network namespace", h.sidecar.HTTPEndpoint)
	}
	return p
}

// ---------------------------------------------------------------------------------------------------
// The Dockerfile: parsed with BuildKit, and a model of where each file of each stage comes from.

type dockerImage struct {
	root     string
	stages   []*dockerStage
	ignore   *patternmatcher.PatternMatcher
	lint     []string // BuildKit's parse-time lint warnings
	warnings []string // the parser's warnings
}

type dockerStage struct {
	index      int
	name       string
	base       string
	line       int
	env        map[string]string // ENV (and the base stage's), as in the image config
	args       map[string]string // ARG defaults, for expansion only
	user       string
	workdir    string
	expose     []string
	health     []string // HEALTHCHECK test, e.g. ["CMD-SHELL", "curl ..."]
	entrypoint []string
	entryShell bool
	cmd        []string
	cmdShell   bool
	steps      []step // COPY and RUN products, in order
	runs       []run
	apt        []string // packages installed with apt-get install
}

type step struct {
	line int
	copy *dockerCopy
	prod *product
}

type dockerCopy struct {
	from    string // "" for the build context
	srcs    []string
	dest    string // absolute
	destDir bool   // the destination is a directory: it ends with / or there are several sources
}

type run struct {
	line    int
	workdir string
	script  string
}

// product is what a RUN command builds, recognized by name.
type product struct {
	kind    string // "go build", "npm run build" or "mkdir"
	path    string // absolute: the binary, the build/ folder or the directory
	workdir string // where the command ran
	line    int
}

func (s *dockerStage) String() string {
	if s.name != "" {
		return fmt.Sprintf("stage %q (line %d)", s.name, s.line)
	}
	return fmt.Sprintf("stage %d (line %d)", s.index, s.line)
}

func loadDockerfile(t testing.TB) *dockerImage {
	t.Helper()
	root := repoRoot(t)
	d := &dockerImage{root: root}

	ig, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatalf("the build context needs a .dockerignore: %v", err)
	}
	patterns, err := ignorefile.ReadAll(bytes.NewReader(ig))
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	if d.ignore, err = patternmatcher.New(patterns); err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}

	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := dfparser.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		d.warnings = append(d.warnings, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []dfparser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		d.lint = append(d.lint, fmt.Sprintf("line %d: %s: %s", line, rule, msg))
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	meta := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				meta[kv.Key] = *kv.Value
			}
		}
	}
	lex := shell.NewLex(res.EscapeToken)
	for i, st := range stages {
		s := &dockerStage{index: i, name: st.Name, env: map[string]string{}, args: map[string]string{}}
		if len(st.Location) > 0 {
			s.line = st.Location[0].Start.Line
		}
		base, _, err := lex.ProcessWord(st.BaseName, shell.EnvsFromSlice(kvSlice(meta)))
		if err != nil {
			t.Fatalf("%s: FROM %s: %v", s, st.BaseName, err)
		}
		s.base = base
		workdir := "/"
		if b := d.stage(base); b != nil {
			for k, v := range b.env {
				s.env[k] = v
			}
			s.user, workdir = b.user, b.workdir
		}
		expand := func(word string) (string, error) {
			vars := map[string]string{}
			for k, v := range s.args {
				vars[k] = v
			}
			for k, v := range s.env {
				vars[k] = v
			}
			r, _, err := lex.ProcessWord(word, shell.EnvsFromSlice(kvSlice(vars)))
			return r, err
		}
		for _, c := range st.Commands {
			line := 0
			if loc := c.Location(); len(loc) > 0 {
				line = loc[0].Start.Line
			}
			if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
				if _, isRun := c.(*instructions.RunCommand); !isRun {
					if err := e.Expand(expand); err != nil {
						t.Fatalf("Dockerfile line %d: %v", line, err)
					}
				}
			}
			switch c := c.(type) {
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					v := meta[kv.Key]
					if kv.Value != nil {
						v = *kv.Value
					}
					s.args[kv.Key] = v
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					s.env[kv.Key] = kv.Value
				}
			case *instructions.WorkdirCommand:
				workdir = absIn(workdir, c.Path)
			case *instructions.UserCommand:
				s.user = c.User
			case *instructions.ExposeCommand:
				s.expose = append(s.expose, c.Ports...)
			case *instructions.HealthCheckCommand:
				s.health = c.Health.Test
			case *instructions.EntrypointCommand:
				s.entrypoint, s.entryShell = c.CmdLine, c.PrependShell
			case *instructions.CmdCommand:
				s.cmd, s.cmdShell = c.CmdLine, c.PrependShell
			case *instructions.CopyCommand:
				dc := &dockerCopy{from: c.From, srcs: c.SourcePaths, dest: absIn(workdir, c.DestPath)}
				dc.destDir = strings.HasSuffix(c.DestPath, "/") || c.DestPath == "." || len(c.SourcePaths) > 1
				if len(c.SourceContents) > 0 {
					t.Fatalf("Dockerfile line %d: COPY with a here-document: extend the test's model", line)
				}
				s.steps = append(s.steps, step{line: line, copy: dc})
			case *instructions.AddCommand:
				t.Fatalf("Dockerfile line %d: use COPY (ADD fetches and unpacks; the test does not model it)", line)
			case *instructions.RunCommand:
				script := strings.Join(c.CmdLine, " ")
				s.runs = append(s.runs, run{line: line, workdir: workdir, script: script})
				for _, p := range runProducts(script, workdir, line) {
					s.steps = append(s.steps, step{line: line, prod: p})
				}
				s.apt = append(s.apt, aptPackages(script)...)
			}
		}
		s.workdir = workdir
		d.stages = append(d.stages, s)
	}
	return d
}

func kvSlice(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// absIn is p made absolute against the working directory wd.
func absIn(wd, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(wd, p)
}

// within says whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// shellCommands splits a RUN script into simple commands, each as words (quotes removed).
func shellCommands(script string) [][]string {
	script = strings.NewReplacer("&&", "\n", "||", "\n", ";", "\n").Replace(script)
	var out [][]string
	for _, line := range strings.Split(script, "\n") {
		words := strings.Fields(line)
		for i, w := range words {
			words[i] = strings.Trim(w, `"'`)
		}
		if len(words) > 0 {
			out = append(out, words)
		}
	}
	return out
}

// runProducts are the paths a RUN script builds, recognized by name: `go build -o FILE`, `npm run
// build` (samples/assemblyscript/scripts/build.mjs: every assembly/<app>.ts to build/<app>.wasm) and
// `mkdir`.
func runProducts(script, workdir string, line int) []*product {
	var out []*product
	wd := workdir
	for _, w := range shellCommands(script) {
		switch {
		case w[0] == "cd" && len(w) > 1:
			wd = absIn(wd, w[1])
		case w[0] == "go" && len(w) > 1 && w[1] == "build":
			if i := slices.Index(w, "-o"); i > 0 && i+1 < len(w) {
				out = append(out, &product{kind: "go build", path: absIn(wd, w[i+1]), workdir: wd, line: line})
			}
		case w[0] == "npm" && len(w) > 2 && w[1] == "run" && w[2] == "build":
			out = append(out, &product{kind: "npm run build", path: absIn(wd, "build"), workdir: wd, line: line})
		case w[0] == "mkdir":
			for _, a := range w[1:] {
				if !strings.HasPrefix(a, "-") {
					out = append(out, &product{kind: "mkdir", path: absIn(wd, a), workdir: wd, line: line})
				}
			}
		}
	}
	return out
}

// aptPackages are the packages a RUN script installs with apt-get or apt.
func aptPackages(script string) []string {
	var out []string
	for _, w := range shellCommands(script) {
		if (w[0] == "apt-get" || w[0] == "apt") && slices.Contains(w, "install") {
			for _, a := range w[slices.Index(w, "install")+1:] {
				if !strings.HasPrefix(a, "-") {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// stage finds a stage by name or index.
func (d *dockerImage) stage(ref string) *dockerStage {
	for _, s := range d.stages {
		if ref != "" && (s.name == ref || strconv.Itoa(s.index) == ref) {
			return s
		}
	}
	return nil
}

func (d *dockerImage) final() *dockerStage { return d.stages[len(d.stages)-1] }

// stageBuilding is the stage whose RUN commands build a product of that kind.
func (d *dockerImage) stageBuilding(t testing.TB, kind string) (*dockerStage, *product) {
	t.Helper()
	for _, s := range d.stages {
		for _, st := range s.steps {
			if st.prod != nil && st.prod.kind == kind {
				return s, st.prod
			}
		}
	}
	t.Fatalf("Dockerfile: no stage runs `%s`", kind)
	return nil, nil
}

// ignored says whether .dockerignore keeps a context path (slash-separated, relative) out of the build.
func (d *dockerImage) ignored(rel string) bool {
	m, err := d.ignore.MatchesOrParentMatches(path.Clean(rel))
	return err == nil && m
}

// origin is where a file of an image comes from.
type origin struct {
	context string // a path in the build context (the repository), or ""
	desc    string
}

// locate says where path p of stage s comes from: a file of the build context (which must exist and
// not be excluded by .dockerignore) or what a RUN command of this or an earlier stage builds. The
// base images' own files are not modelled: everything the tests look for is put there by the
// Dockerfile.
func (d *dockerImage) locate(s *dockerStage, p string) (origin, error) {
	return d.locateDepth(s, path.Clean(p), 0)
}

func (d *dockerImage) locateDepth(s *dockerStage, p string, depth int) (origin, error) {
	if depth > 10 {
		return origin{}, fmt.Errorf("%s: COPY --from loop", s)
	}
	var reasons []string
	for i := len(s.steps) - 1; i >= 0; i-- {
		st := s.steps[i]
		if pr := st.prod; pr != nil {
			switch {
			case pr.kind == "go build" && p == pr.path,
				pr.kind == "mkdir" && p == pr.path,
				pr.kind == "npm run build" && p == pr.path:
				return origin{desc: fmt.Sprintf("built by `%s` in %s, line %d", pr.kind, s, pr.line)}, nil
			case pr.kind == "npm run build" && within(p, pr.path):
				app, ok := strings.CutSuffix(strings.TrimPrefix(p, pr.path+"/"), ".wasm")
				if !ok || strings.Contains(app, "/") {
					reasons = append(reasons, fmt.Sprintf("`npm run build` (line %d) writes only build/<app>.wasm", pr.line))
					continue
				}
				src := path.Join(pr.workdir, "assembly", app+".ts")
				o, err := d.locateDepth(s, src, depth+1)
				if err != nil {
					reasons = append(reasons, fmt.Sprintf("`npm run build` (line %d) builds build/%s.wasm from assembly/%s.ts, and %v", pr.line, app, app, err))
					continue
				}
				return origin{desc: fmt.Sprintf("built by `npm run build` in %s, line %d, from %s", s, pr.line, o.desc)}, nil
			}
			continue
		}
		c := st.copy
		for _, src := range c.srcs {
			var srcPath string
			if d.copiesDir(c, src) {
				if !within(p, c.dest) {
					continue
				}
				rel := strings.TrimPrefix(strings.TrimPrefix(p, c.dest), "/")
				srcPath = path.Join(src, rel)
			} else {
				target := c.dest
				if c.destDir {
					target = path.Join(c.dest, path.Base(src))
				}
				if p != target {
					continue
				}
				srcPath = src
			}
			if c.from == "" {
				rel := path.Clean(srcPath)
				switch _, err := os.Stat(filepath.Join(d.root, filepath.FromSlash(rel))); {
				case err != nil:
					reasons = append(reasons, fmt.Sprintf("line %d copies it from %s in the build context, which does not exist", st.line, rel))
				case d.ignored(rel):
					reasons = append(reasons, fmt.Sprintf("line %d copies it from %s, which .dockerignore excludes", st.line, rel))
				default:
					return origin{context: rel, desc: fmt.Sprintf("%s in the build context (line %d)", rel, st.line)}, nil
				}
				continue
			}
			from := d.stage(c.from)
			if from == nil || from.index >= s.index {
				reasons = append(reasons, fmt.Sprintf("line %d copies it --from=%s, which is not an earlier stage", st.line, c.from))
				continue
			}
			o, err := d.locateDepth(from, srcPath, depth+1)
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("line %d copies it from %s of %s: %v", st.line, srcPath, from, err))
				continue
			}
			o.desc = fmt.Sprintf("%s (copied by line %d)", o.desc, st.line)
			return o, nil
		}
	}
	if b := d.stage(s.base); b != nil && b.index < s.index {
		return d.locateDepth(b, p, depth+1)
	}
	if len(reasons) == 0 {
		return origin{}, fmt.Errorf("nothing in %s puts %s there", s, p)
	}
	return origin{}, fmt.Errorf("%s is not in %s: %s", p, s, strings.Join(reasons, "; "))
}

// copiesDir says whether the COPY source src is a directory (whose contents land in the destination).
func (d *dockerImage) copiesDir(c *dockerCopy, src string) bool {
	if c.from == "" {
		fi, err := os.Stat(filepath.Join(d.root, filepath.FromSlash(path.Clean(src))))
		return err == nil && fi.IsDir()
	}
	if strings.HasSuffix(src, "/") || src == "." {
		return true
	}
	if from := d.stage(c.from); from != nil {
		for _, st := range from.steps {
			if st.prod != nil && st.prod.kind != "go build" && st.prod.path == path.Clean(src) {
				return true
			}
		}
	}
	return false
}

// imageName splits an image reference into repository (without registry and library/) and tag.
func imageName(ref string) (repo, tag string) {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref, tag = ref[:i], ref[i+1:]
	}
	parts := strings.Split(ref, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		parts = parts[1:]
	}
	return strings.TrimPrefix(strings.Join(parts, "/"), "library/"), tag
}

// debianRelease is the Debian release an image tag names (bookworm, trixie, ...), or "".
func debianRelease(tag string) string {
	for _, r := range []string{"bullseye", "bookworm", "trixie", "forky"} {
		if regexp.MustCompile(`(^|-)` + r + `($|-)`).MatchString(tag) {
			return r
		}
	}
	return ""
}

// imageEnv is the environment of a container of the final image, with the overrides applied.
func (d *dockerImage) imageEnv(overrides map[string]string) map[string]string {
	env := map[string]string{"PATH": debianPath}
	for k, v := range d.final().env {
		env[k] = v
	}
	for k, v := range overrides {
		env[k] = v
	}
	return env
}

// ---------------------------------------------------------------------------------------------------
// The serve manifest inside the image.

// parseImageManifest parses the serve manifest that the container reads at file (an absolute path in
// the container) with the host's own manifest package. Module paths are resolved as the host resolves
// them there (relative to the manifest's directory) and looked up in the image the Dockerfile builds.
// manifest.Parse also checks that the module files exist on disk; here they do not (the image's /app
// is not this machine's, and the guests may not be built yet), so a temporary directory stands for the
// container's root, with an empty placeholder at each module path the Dockerfile provides, and
// absolute paths are rewritten into it. The modules come back with their paths in the container.
func parseImageManifest(t testing.TB, d *dockerImage, file string, data []byte) []manifest.Module {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	fakeRoot := t.TempDir()
	inFake := func(p string) string { return filepath.Join(fakeRoot, filepath.FromSlash(p)) }
	dir := path.Dir(file)
	if err := os.MkdirAll(inFake(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	found := 0
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		top := doc.Content[0]
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value != "modules" || top.Content[i+1].Kind != yaml.SequenceNode {
				continue
			}
			for _, m := range top.Content[i+1].Content {
				for j := 0; m.Kind == yaml.MappingNode && j+1 < len(m.Content); j += 2 {
					if m.Content[j].Value != "path" || m.Content[j+1].Kind != yaml.ScalarNode {
						continue
					}
					v := m.Content[j+1]
					inImage := absIn(dir, v.Value)
					found++
					o, err := d.locate(d.final(), inImage)
					if err != nil {
						t.Errorf("%s: module path %s is %s in the container, and the image does not have it: %v", file, v.Value, inImage, err)
					} else {
						t.Logf("%s: module %s: %s", file, inImage, o.desc)
					}
					// A placeholder either way, so that the rest of the manifest is still checked.
					if err := os.MkdirAll(filepath.Dir(inFake(inImage)), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(inFake(inImage), nil, 0o644); err != nil {
						t.Fatal(err)
					}
					if path.IsAbs(v.Value) {
						v.Value = inFake(v.Value)
					}
				}
			}
		}
	}
	if found == 0 {
		t.Fatalf("%s: no modules[].path found", file)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(file, out, inFake(dir))
	if err != nil {
		t.Fatalf("the host would refuse the manifest %s:\n%v", file, err)
	}
	for i := range m.Modules {
		rel, err := filepath.Rel(fakeRoot, m.Modules[i].Path)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("%s: module %s resolved outside the container: %s", file, m.Modules[i].Name, m.Modules[i].Path)
		}
		m.Modules[i].Path = "/" + filepath.ToSlash(rel)
	}
	return m.Modules
}

// readSampleManifest is the sample's manifest, which the image serves by default.
func readSampleManifest(t testing.TB, root string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(sampleManifest)))
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s does not exist: it is the serve manifest of the AssemblyScript order service "+
			"(samples/assemblyscript/assembly/service.ts), which the Dockerfile copies into the image and both "+
			"docker-compose.yml and deploy/kubernetes serve; add it with the sample", sampleManifest)
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// expectedComponents are the component names the order service uses: STATE_STORE and PUBSUB_NAME of
// the module's environment, else the defaults of samples/assemblyscript/assembly/service.ts
// (statestore, pubsub), and the pub/sub of every subscription.
func expectedComponents(mods []manifest.Module) (stores, pubsubs []string) {
	for _, m := range mods {
		store, ps := "statestore", "pubsub"
		if v := m.Env["STATE_STORE"]; v != "" {
			store = v
		}
		if v := m.Env["PUBSUB_NAME"]; v != "" {
			ps = v
		}
		stores, pubsubs = appendNew(stores, store), appendNew(pubsubs, ps)
		for _, s := range m.Subscriptions {
			pubsubs = appendNew(pubsubs, s.PubSub)
		}
	}
	return stores, pubsubs
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// ---------------------------------------------------------------------------------------------------
// Dapr components.

// daprComponent is a Dapr Component resource (dapr.io/v1alpha1), as much of it as the files use.
type daprComponent struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Type         string `json:"type"`
		Version      string `json:"version"`
		IgnoreErrors bool   `json:"ignoreErrors,omitempty"`
		InitTimeout  string `json:"initTimeout,omitempty"`
		Metadata     []struct {
			Name         string `json:"name"`
			Value        any    `json:"value,omitempty"`
			SecretKeyRef *struct {
				Name string `json:"name"`
				Key  string `json:"key"`
			} `json:"secretKeyRef,omitempty"`
		} `json:"metadata"`
	} `json:"spec"`
	Auth *struct {
		SecretStore string `json:"secretStore"`
	} `json:"auth,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
}

func (c daprComponent) meta(name string) (string, bool) {
	for _, m := range c.Spec.Metadata {
		if m.Name == name {
			s, ok := m.Value.(string)
			return s, ok
		}
	}
	return "", false
}

// yamlDocs splits a multi-document YAML file; documents with nothing but comments are dropped.
func yamlDocs(t testing.TB, file string) [][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var v any
		if err := sigsyaml.Unmarshal(doc, &v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if v != nil {
			docs = append(docs, doc)
		}
	}
}

// decodeStrict decodes a YAML document as the API server does with strict field validation (kubectl's
// default): YAML to JSON without looking at the target type (so `dapr.io/enabled: true` is a bool, not
// the string an annotation must be), then case-sensitive JSON with no unknown or duplicate fields.
func decodeStrict(t testing.TB, file string, doc []byte, into any) {
	t.Helper()
	j, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	strict, err := sigsjson.UnmarshalStrict(j, into, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(strict) > 0 {
		t.Fatalf("%s: %v", file, errors.Join(strict...))
	}
}

// checkComponents checks that the components declare the state store and pub/sub the service uses,
// on Redis at redisHost.
func checkComponents(t *testing.T, where string, comps []daprComponent, stores, pubsubs []string, redisHost string) {
	t.Helper()
	byName := map[string]daprComponent{}
	for _, c := range comps {
		if c.APIVersion != "dapr.io/v1alpha1" || c.Kind != "Component" {
			t.Errorf("%s: %s is %s %s: want dapr.io/v1alpha1 Component", where, c.Name, c.APIVersion, c.Kind)
		}
		if _, dup := byName[c.Name]; dup {
			t.Errorf("%s: two components named %s", where, c.Name)
		}
		byName[c.Name] = c
		if c.Spec.Version != "v1" {
			t.Errorf("%s: component %s: version %q, want v1", where, c.Name, c.Spec.Version)
		}
		if len(c.Scopes) > 0 && !slices.Contains(c.Scopes, appID) {
			t.Errorf("%s: component %s is scoped to %v, which leaves out the app %s", where, c.Name, c.Scopes, appID)
		}
	}
	check := func(name, typ string) {
		c, ok := byName[name]
		if !ok {
			t.Errorf("%s: no component %s (the order service uses it); have %v", where, name, slices.Sorted(mapsKeys(byName)))
			return
		}
		if c.Spec.Type != typ {
			t.Errorf("%s: component %s has type %s, want %s", where, name, c.Spec.Type, typ)
		}
		if h, ok := c.meta("redisHost"); !ok || h != redisHost {
			t.Errorf("%s: component %s: redisHost %q, want %q", where, name, h, redisHost)
		}
	}
	for _, s := range stores {
		check(s, "state.redis")
	}
	for _, p := range pubsubs {
		check(p, "pubsub.redis")
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ---------------------------------------------------------------------------------------------------
// Dockerfile tests.

func TestDockerfileStages(t *testing.T) {
	d := loadDockerfile(t)
	if len(d.warnings) > 0 || len(d.lint) > 0 {
		t.Errorf("BuildKit warns about the Dockerfile:\n%s", strings.Join(append(d.warnings, d.lint...), "\n"))
	}
	if len(d.stages) < 3 {
		t.Fatalf("the Dockerfile has %d stages: want a multi-stage build (the host, the guests, the runtime image)", len(d.stages))
	}
	final := d.final()
	names := map[string]bool{}
	for _, s := range d.stages[:len(d.stages)-1] {
		if s.name == "" {
			t.Errorf("%s: name the build stages (FROM ... AS name) so that COPY --from reads well", s)
		}
		if names[s.name] {
			t.Errorf("two stages named %s", s.name)
		}
		names[s.name] = true
	}

	// The host: cgo on, built with the Go release go.mod asks for, on the Debian release the runtime
	// image has (the binary links glibc dynamically).
	goStage, goBuild := d.stageBuilding(t, "go build")
	goRepo, goTag := imageName(goStage.base)
	if goRepo != "golang" {
		t.Errorf("%s builds the host FROM %s: want the golang image", goStage, goStage.base)
	}
	gomod, _ := os.ReadFile(filepath.Join(d.root, "go.mod"))
	goVersion := ""
	if m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod); m != nil {
		goVersion = string(m[1])
	}
	if goVersion == "" || goTag != goVersion && !strings.HasPrefix(goTag, goVersion+"-") && !strings.HasPrefix(goTag, goVersion+".") {
		t.Errorf("%s: golang:%s is not the Go release go.mod asks for (go %s)", goStage, goTag, goVersion)
	}
	if v := goStage.env["CGO_ENABLED"]; v == "0" {
		t.Errorf("%s: CGO_ENABLED=0, but the host needs cgo (wasmtime-go)", goStage)
	}
	var buildCmd string
	for _, r := range goStage.runs {
		if r.line != goBuild.line {
			continue
		}
		for _, w := range strings.Split(strings.NewReplacer("&&", "\n", ";", "\n").Replace(r.script), "\n") {
			if strings.Contains(w, "go build") {
				buildCmd = strings.TrimSpace(w)
			}
		}
	}
	wd := goBuild.workdir
	if o, err := d.locate(goStage, path.Join(wd, "go.mod")); err != nil {
		t.Errorf("`go build` (line %d) runs in %s, which has no go.mod: %v", goBuild.line, wd, err)
	} else if o.context != "go.mod" {
		t.Errorf("`go build` (line %d) runs in %s, whose go.mod is %s, not the repository's", goBuild.line, wd, o.desc)
	}
	words := strings.Fields(buildCmd)
	if len(words) == 0 || !strings.HasPrefix(words[len(words)-1], "./") {
		t.Errorf("the go build command %q does not end with the package (./cmd/wasi-dapr-host)", buildCmd)
	} else if o, err := d.locate(goStage, path.Join(wd, words[len(words)-1], "main.go")); err != nil || o.context != "cmd/wasi-dapr-host/main.go" {
		t.Errorf("`go build` (line %d) builds %s: want ./cmd/wasi-dapr-host from the build context (%v)", goBuild.line, words[len(words)-1], err)
	}
	for _, flag := range []string{"-trimpath", `-s -w`, "-X main.version="} {
		if !strings.Contains(buildCmd, flag) {
			t.Errorf("the go build command %q lacks %s", buildCmd, flag)
		}
	}
	if !hasStringVar(t, filepath.Join(d.root, "cmd", "wasi-dapr-host"), "version") {
		t.Errorf("-X main.version needs a package-level string variable version in cmd/wasi-dapr-host")
	}

	// The guests: Node as package.json asks for.
	nodeStage, nodeBuild := d.stageBuilding(t, "npm run build")
	nodeRepo, nodeTag := imageName(nodeStage.base)
	pkg, _ := os.ReadFile(filepath.Join(d.root, "samples", "assemblyscript", "package.json"))
	minNode := 0
	if m := regexp.MustCompile(`"node":\s*">=\s*(\d+)`).FindSubmatch(pkg); m != nil {
		minNode, _ = strconv.Atoi(string(m[1]))
	}
	majorStr, _, _ := strings.Cut(nodeTag, "-")
	major, err := strconv.Atoi(majorStr)
	switch {
	case nodeRepo != "node" || err != nil:
		t.Errorf("%s builds the guests FROM %s: want node:<major>-...", nodeStage, nodeStage.base)
	case minNode == 0:
		t.Errorf("samples/assemblyscript/package.json has no engines.node \">=N\" to check the Node image against")
	case major < minNode:
		t.Errorf("%s: node %d is older than package.json's engines node >=%d", nodeStage, major, minNode)
	}

	// npm ci and npm run build find what they read: the package files, the build script's files and
	// the compiler configuration.
	needs := []string{"package.json", "package-lock.json", "asconfig.json"}
	var pj struct {
		Scripts map[string]string `json:"scripts"`
	}
	if err := json.Unmarshal(pkg, &pj); err != nil || pj.Scripts["build"] == "" {
		t.Errorf("samples/assemblyscript/package.json has no build script (%v)", err)
	}
	for _, w := range strings.Fields(pj.Scripts["build"]) {
		if strings.Contains(w, "/") && !strings.HasPrefix(w, "-") {
			needs = append(needs, w)
		}
	}
	for _, f := range needs {
		if _, err := d.locate(nodeStage, path.Join(nodeBuild.workdir, f)); err != nil {
			t.Errorf("`npm run build` (line %d) runs in %s without %s: %v", nodeBuild.line, nodeBuild.workdir, f, err)
		}
	}

	// The runtime image: glibc of the same Debian release, no toolchain, nothing installed but the
	// certificates and curl for the health check.
	finalRepo, finalTag := imageName(final.base)
	if finalRepo == "golang" || finalRepo == "node" || d.stage(final.base) != nil {
		t.Errorf("the final stage is FROM %s: want a slim runtime base, not a build image or stage", final.base)
	}
	if strings.Contains(finalRepo+finalTag, "alpine") || strings.Contains(finalRepo, "static") {
		t.Errorf("the final stage is FROM %s, which has no glibc; the host links glibc dynamically", final.base)
	}
	if rel, built := debianRelease(finalTag), debianRelease(goTag); rel == "" || rel != built {
		t.Errorf("the host is built on Debian %q (golang:%s) and runs on %q (%s): use the same release, "+
			"or the binary may need a newer glibc than the image has", built, goTag, rel, final.base)
	}
	for _, p := range final.apt {
		if p != "ca-certificates" && p != "curl" {
			t.Errorf("the final stage installs %s: want ca-certificates and curl only (no compiler in the runtime image)", p)
		}
	}
	if !slices.Contains(final.apt, "ca-certificates") {
		t.Errorf("the final stage does not install ca-certificates: guests allowed to reach https:// hosts need them")
	}
	for _, st := range final.steps {
		if st.prod != nil && st.prod.kind != "mkdir" {
			t.Errorf("the final stage builds something (line %d: %s); build in an earlier stage", st.prod.line, st.prod.kind)
		}
	}
}

// hasStringVar says whether the Go package in dir declares a package-level string variable name.
func hasStringVar(t testing.TB, dir, name string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", file, err)
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if n.Name != name {
						continue
					}
					if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" {
						return true
					}
					if vs.Type == nil && i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

func TestDockerfileCopySources(t *testing.T) {
	d := loadDockerfile(t)
	copies := 0
	for _, s := range d.stages {
		for _, st := range s.steps {
			c := st.copy
			if c == nil {
				continue
			}
			copies++
			for _, src := range c.srcs {
				if c.from != "" {
					from := d.stage(c.from)
					if from == nil || from.index >= s.index {
						t.Errorf("line %d: COPY --from=%s: not an earlier stage of this Dockerfile", st.line, c.from)
						continue
					}
					if o, err := d.locate(from, src); err != nil {
						t.Errorf("line %d: COPY --from=%s %s: %s does not produce it: %v", st.line, c.from, src, from, err)
					} else {
						t.Logf("line %d: %s: %s", st.line, src, o.desc)
					}
					continue
				}
				rel := path.Clean(src)
				if path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
					t.Errorf("line %d: COPY %s reaches outside the build context", st.line, src)
					continue
				}
				matches, _ := filepath.Glob(filepath.Join(d.root, filepath.FromSlash(rel)))
				if len(matches) == 0 {
					t.Errorf("line %d: COPY %s: no such file in the repository", st.line, src)
				}
				if d.ignored(rel) {
					t.Errorf("line %d: COPY %s: .dockerignore excludes it from the build context", st.line, src)
				}
			}
		}
	}
	if copies == 0 {
		t.Fatal("the Dockerfile copies nothing")
	}
}

func TestDockerignore(t *testing.T) {
	d := loadDockerfile(t)
	for _, p := range []string{".git/HEAD", "bin/wasi-dapr-host", "samples/assemblyscript/node_modules/assemblyscript/package.json",
		"samples/assemblyscript/build/cli.wasm", "host.test"} {
		if !d.ignored(p) {
			t.Errorf(".dockerignore does not exclude %s (VCS data, build outputs and node_modules stay out of the context)", p)
		}
	}

	// Everything the host's build compiles, as go list sees it, is in the context.
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	tmpl := `{{if and .Module .Module.Main}}{{$d := .Dir}}` +
		`{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .CgoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}` +
		`{{range .CFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .HFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}` +
		`{{range .SFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}`
	cmd := exec.Command(goBin, "list", "-e", "-deps", "-f", tmpl, "./cmd/wasi-dapr-host")
	cmd.Dir = d.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	inputs := []string{"go.mod", "go.sum"}
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(d.root, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("go list: %s is outside the repository", f)
		}
		inputs = append(inputs, filepath.ToSlash(rel))
	}
	if len(inputs) < 10 {
		t.Fatalf("go list found only %v: want the host's sources", inputs)
	}

	// And everything the guests' build reads.
	as := "samples/assemblyscript"
	for _, f := range []string{"package.json", "package-lock.json", "asconfig.json"} {
		inputs = append(inputs, as+"/"+f)
	}
	for _, dir := range []string{"assembly", "scripts"} {
		err := filepath.WalkDir(filepath.Join(d.root, as, dir), func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				rel, _ := filepath.Rel(d.root, p)
				inputs = append(inputs, filepath.ToSlash(rel))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range inputs {
		if d.ignored(f) {
			t.Errorf(".dockerignore excludes %s, which the image's build needs", f)
		}
	}
	t.Logf("%d build inputs are in the context", len(inputs))
}

func TestDockerfileRuntimeImage(t *testing.T) {
	d := loadDockerfile(t)
	root := d.root
	def := readServeDefaults(t, root)
	final := d.final()

	// A numeric, non-root user: Kubernetes' runAsNonRoot can only verify a numeric one.
	uid, _, _ := strings.Cut(final.user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root uid (e.g. 65532:65532)", final.user)
	}

	if final.entryShell || !reflect.DeepEqual(final.entrypoint, []string{hostBinary}) {
		t.Errorf("ENTRYPOINT %q (shell form %v): want [\"%s\"]", final.entrypoint, final.entryShell, hostBinary)
	}
	env := d.imageEnv(nil)
	var onPath []string
	for _, dir := range strings.Split(env["PATH"], ":") {
		if o, err := d.locate(final, path.Join(dir, hostBinary)); err == nil {
			onPath = append(onPath, dir+": "+o.desc)
		}
	}
	if len(onPath) == 0 {
		t.Errorf("the image has no %s on its PATH (%s)", hostBinary, env["PATH"])
	} else if !strings.Contains(onPath[0], "go build") {
		t.Errorf("the %s on the image's PATH is %s: want the binary the Go stage builds", hostBinary, onPath[0])
	}

	if final.cmdShell {
		t.Fatalf("CMD %q is in shell form: want the exec form", final.cmd)
	}
	h := resolveServe(t, def, final.cmd, env)
	if env["APP_PORT"] == "" || env["WASI_DAPR_CACHE_DIR"] == "" {
		t.Errorf("the image sets APP_PORT=%q and WASI_DAPR_CACHE_DIR=%q: want both", env["APP_PORT"], env["WASI_DAPR_CACHE_DIR"])
	}
	if cache := env["WASI_DAPR_CACHE_DIR"]; !within(cache, "/tmp") {
		t.Errorf("WASI_DAPR_CACHE_DIR=%s: the non-root user can write /tmp only", cache)
	}
	if !slices.Contains(final.expose, strconv.Itoa(h.appPort)) && !slices.Contains(final.expose, strconv.Itoa(h.appPort)+"/tcp") {
		t.Errorf("EXPOSE %v does not include the app port %d", final.expose, h.appPort)
	}

	// The health check: /healthz on the app port, failing on a 503.
	if len(final.health) < 2 {
		t.Fatalf("HEALTHCHECK %q: want one on /healthz", final.health)
	}
	script := strings.Join(final.health[1:], " ")
	if final.health[0] == "CMD-SHELL" {
		var err error
		if script, _, err = shell.NewLex('\\').ProcessWord(script, shell.EnvsFromSlice(kvSlice(env))); err != nil {
			t.Fatalf("HEALTHCHECK: %v", err)
		}
	}
	u := regexp.MustCompile(`https?://(127\.0\.0\.1|localhost):(\d+)(/[^\s"']*)`).FindStringSubmatch(script)
	if u == nil || u[2] != strconv.Itoa(h.appPort) || u[3] != "/healthz" {
		t.Errorf("HEALTHCHECK runs %q in the container: want http://127.0.0.1:%d/healthz (the app port)", script, h.appPort)
	}
	if w := strings.Fields(script); len(w) > 0 && w[0] == "curl" {
		if !slices.Contains(final.apt, "curl") {
			t.Errorf("HEALTHCHECK runs curl, which the final stage does not install")
		}
		if !slices.ContainsFunc(w, func(a string) bool {
			return a == "--fail" || a == "-f" || regexp.MustCompile(`^-[a-zA-Z]*f`).MatchString(a)
		}) {
			t.Errorf("HEALTHCHECK: curl without --fail succeeds on the 503 of a host that is not ready")
		}
	}

	// The serve command's manifest and its guests are in the image.
	if h.config == "" {
		t.Fatalf("CMD %q gives no --config", final.cmd)
	}
	o, err := d.locate(final, h.config)
	if err != nil {
		t.Fatalf("CMD serves --config %s, which is not in the image: %v", h.config, err)
	}
	if o.context != sampleManifest {
		t.Errorf("the image's %s is %s: want %s", h.config, o.desc, sampleManifest)
	}
	data := readSampleManifest(t, root)
	mods := parseImageManifest(t, d, h.config, data)
	for _, m := range mods {
		t.Logf("image module %s at %s: routes %v, %d subscriptions", m.Name, m.Path, m.Routes, len(m.Subscriptions))
	}
}

// ---------------------------------------------------------------------------------------------------
// docker-compose.yml.

func loadCompose(t testing.TB, root string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv([]string{}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cli.ProjectFromOptions(context.Background(), opts)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

func composeService(t testing.TB, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v (have %v)", err, p.ServiceNames())
	}
	return s
}

// composeSetup is the compose file resolved against the Dockerfile and the host's defaults.
type composeSetup struct {
	project   *types.Project
	redis     types.ServiceConfig
	orders    types.ServiceConfig
	sidecar   types.ServiceConfig
	host      hostServe
	daprdArgs []string
}

func loadComposeSetup(t testing.TB) (*dockerImage, composeSetup) {
	t.Helper()
	d := loadDockerfile(t)
	c := composeSetup{project: loadCompose(t, d.root)}
	c.redis = composeService(t, c.project, "redis")
	c.orders = composeService(t, c.project, "orders")
	c.sidecar = composeService(t, c.project, "orders-dapr")

	entry, args := []string(c.orders.Entrypoint), []string(c.orders.Command)
	if entry == nil {
		entry = d.final().entrypoint
	}
	if args == nil {
		args = d.final().cmd
	}
	if !reflect.DeepEqual(entry, []string{hostBinary}) {
		t.Fatalf("orders runs %q: want the image's %s", entry, hostBinary)
	}
	overrides := map[string]string{}
	for k, v := range c.orders.Environment {
		if v == nil {
			t.Fatalf("orders: environment %s takes its value from the machine running compose; give it one", k)
		}
		overrides[k] = *v
	}
	c.host = resolveServe(t, readServeDefaults(t, d.root), args, d.imageEnv(overrides))
	c.daprdArgs = c.sidecar.Command
	return d, c
}

func TestComposeServices(t *testing.T) {
	d, c := loadComposeSetup(t)

	if repo, tag := imageName(c.redis.Image); repo != "redis" || !strings.HasPrefix(tag, "7") {
		t.Errorf("redis runs %s: want redis:7-alpine", c.redis.Image)
	}
	if c.redis.HealthCheck == nil || len(c.redis.HealthCheck.Test) == 0 {
		t.Errorf("redis has no health check, so the sidecar cannot wait for it")
	}

	if c.orders.Build == nil || filepath.Clean(c.orders.Build.Context) != d.root {
		t.Errorf("orders: want build: . (the repository's Dockerfile); have %+v", c.orders.Build)
	} else if f := c.orders.Build.Dockerfile; f != "" && f != "Dockerfile" {
		t.Errorf("orders: builds %s: want the Dockerfile the tests check", f)
	}
	if c.orders.Image != "wasi-dapr-host:latest" {
		t.Errorf("orders: image %q: want wasi-dapr-host:latest (the name deploy/kubernetes uses)", c.orders.Image)
	}

	wantDaprd := "daprio/daprd:" + daprclient.TestedRuntime
	if c.sidecar.Image != wantDaprd {
		t.Errorf("orders-dapr runs %s: want %s, the daprd the integration tests run against", c.sidecar.Image, wantDaprd)
	}
	if c.sidecar.NetworkMode != "service:orders" {
		t.Errorf("orders-dapr: network_mode %q: want service:orders (daprd and the host reach each other on 127.0.0.1)", c.sidecar.NetworkMode)
	}
	if len(c.sidecar.Ports) > 0 {
		t.Errorf("orders-dapr publishes ports, which a service in another's network namespace cannot; publish them on orders")
	}
	for _, dep := range []string{"orders", "redis"} {
		if _, ok := c.sidecar.DependsOn[dep]; !ok {
			t.Errorf("orders-dapr does not depend on %s", dep)
		}
	}
	if dep := c.sidecar.DependsOn["redis"]; dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("orders-dapr depends on redis with condition %q: want service_healthy (daprd fails when Redis is not up yet)", dep.Condition)
	}

	// Every bind mount's host path is in the repository.
	mounts := 0
	for _, s := range c.project.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			mounts++
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s, which does not exist: %v", s.Name, v.Source, err)
			} else if rel, err := filepath.Rel(d.root, v.Source); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s mounts %s, outside the repository", s.Name, v.Source)
			}
		}
	}
	if mounts == 0 {
		t.Errorf("no bind mounts: the sidecar needs its components")
	}
}

func TestComposeSidecarMatchesHost(t *testing.T) {
	_, c := loadComposeSetup(t)
	args := c.daprdArgs
	if len(args) == 0 || args[0] != daprdBinary {
		t.Fatalf("orders-dapr command %q: want %s first (the official image has no entrypoint)", args, daprdBinary)
	}
	flag := func(name, def string) string {
		if v, ok := flagValue(args[1:], name); ok {
			return v
		}
		return def
	}
	if v := flag("app-id", ""); v != appID {
		t.Errorf("daprd --app-id %q: want %s", v, appID)
	}
	if v, ok := c.orders.Environment["APP_ID"]; ok && *v != flag("app-id", "") {
		t.Errorf("orders: APP_ID=%s, daprd --app-id %s", *v, flag("app-id", ""))
	}
	if v := flag("app-port", ""); v != strconv.Itoa(c.host.appPort) {
		t.Errorf("daprd --app-port %q, the host listens on %d", v, c.host.appPort)
	}
	if v := flag("app-protocol", "http"); v != c.host.appProtocol {
		t.Errorf("daprd --app-protocol %q, the host speaks %s", v, c.host.appProtocol)
	}
	if v := flag("app-channel-address", "127.0.0.1"); v != "127.0.0.1" && v != "localhost" {
		t.Errorf("daprd --app-channel-address %s: the host is on 127.0.0.1 of the shared network namespace", v)
	}
	daprHTTP, err := strconv.Atoi(flag("dapr-http-port", "3500"))
	if err != nil {
		t.Fatalf("daprd --dapr-http-port: %v", err)
	}
	if p := sidecarPort(t, c.host); p != daprHTTP {
		t.Errorf("the host reaches daprd at %s (DAPR_HTTP_PORT), daprd listens on --dapr-http-port %d", c.host.sidecar.HTTPEndpoint, daprHTTP)
	}
	if want := fmt.Sprintf("http://127.0.0.1:%d", daprHTTP); !slices.Contains(c.host.allow, want) {
		t.Errorf("the guests' default allow-list %v does not include the sidecar %s", c.host.allow, want)
	}
	if v, ok := flagValue(args[1:], "dapr-listen-addresses"); ok && !strings.Contains(v, "0.0.0.0") {
		t.Errorf("daprd --dapr-listen-addresses %s: the published port %d reaches daprd on the container's address", v, daprHTTP)
	}

	// Both ports are published on orders, whose network namespace daprd shares.
	published := map[uint32]bool{}
	for _, p := range c.orders.Ports {
		if p.Published != "" {
			published[p.Target] = true
		}
	}
	for what, port := range map[string]int{"the app port": c.host.appPort, "daprd's HTTP port": daprHTTP} {
		if !published[uint32(port)] {
			t.Errorf("orders does not publish %s %d (ports %+v)", what, port, c.orders.Ports)
		}
	}
}

func TestComposeComponents(t *testing.T) {
	d, c := loadComposeSetup(t)
	resources, ok := flagValue(c.daprdArgs, "resources-path")
	if !ok {
		t.Fatalf("daprd has no --resources-path")
	}
	var dir string
	for _, v := range c.sidecar.Volumes {
		if v.Type == types.VolumeTypeBind && path.Clean(v.Target) == path.Clean(resources) {
			dir = v.Source
		}
	}
	if dir == "" {
		t.Fatalf("daprd reads components from %s, which no volume of orders-dapr mounts", resources)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var comps []daprComponent
	for _, f := range files {
		for _, doc := range yamlDocs(t, f) {
			var comp daprComponent
			decodeStrict(t, f, doc, &comp)
			comps = append(comps, comp)
		}
	}
	if len(comps) == 0 {
		t.Fatalf("%s holds no components", dir)
	}

	// Redis is the compose service, at its default port.
	port := "6379"
	if v, ok := flagValue(c.redis.Command, "port"); ok {
		port = v
	}
	mods := parseImageManifest(t, d, c.host.config, readSampleManifest(t, d.root))
	stores, pubsubs := expectedComponents(mods)
	checkComponents(t, dir, comps, stores, pubsubs, c.redis.Name+":"+port)
}

func TestComposeServesSample(t *testing.T) {
	d, c := loadComposeSetup(t)
	if c.host.config == "" {
		t.Fatalf("orders serves no --config")
	}
	o, err := d.locate(d.final(), c.host.config)
	if err != nil {
		t.Fatalf("orders serves --config %s, which is not in the image: %v", c.host.config, err)
	}
	if o.context != sampleManifest {
		t.Fatalf("orders serves %s, which is %s: want %s", c.host.config, o.desc, sampleManifest)
	}
	mods := parseImageManifest(t, d, c.host.config, readSampleManifest(t, d.root))
	// The README's request: POST /orders reaches a module.
	if !slices.ContainsFunc(mods, func(m manifest.Module) bool { return slices.Contains(m.Routes, "/orders") }) {
		t.Errorf("no module of %s serves /orders, which the README's curl invokes", sampleManifest)
	}
}

// ---------------------------------------------------------------------------------------------------
// deploy/kubernetes.

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
	// Images may point the image at a registry (README.md); the files' own image is what is checked.
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

type k8sObjects struct {
	dir         string
	deployments []appsv1.Deployment
	services    []corev1.Service
	configMaps  []corev1.ConfigMap
	components  []daprComponent
}

func loadKubernetes(t testing.TB) k8sObjects {
	t.Helper()
	root := repoRoot(t)
	o := k8sObjects{dir: filepath.Join(root, "deploy", "kubernetes")}
	kfile := filepath.Join(o.dir, "kustomization.yaml")
	data, err := os.ReadFile(kfile)
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	decodeStrict(t, kfile, data, &k)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Fatalf("%s: %s %s: want kustomize.config.k8s.io/v1beta1 Kustomization", kfile, k.APIVersion, k.Kind)
	}
	all, _ := filepath.Glob(filepath.Join(o.dir, "*.yaml"))
	for _, f := range all {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(k.Resources, base) {
			t.Errorf("%s is not listed in kustomization.yaml's resources", base)
		}
	}
	for _, r := range k.Resources {
		file := filepath.Join(o.dir, filepath.FromSlash(r))
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("kustomization.yaml lists %s: %v", r, err)
		}
		for _, doc := range yamlDocs(t, file) {
			var tm metav1.TypeMeta
			if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				var v appsv1.Deployment
				decodeStrict(t, r, doc, &v)
				o.deployments = append(o.deployments, v)
			case "v1 Service":
				var v corev1.Service
				decodeStrict(t, r, doc, &v)
				o.services = append(o.services, v)
			case "v1 ConfigMap":
				var v corev1.ConfigMap
				decodeStrict(t, r, doc, &v)
				o.configMaps = append(o.configMaps, v)
			case "dapr.io/v1alpha1 Component":
				var v daprComponent
				decodeStrict(t, r, doc, &v)
				o.components = append(o.components, v)
			default:
				t.Fatalf("%s: unexpected %s %s", r, tm.APIVersion, tm.Kind)
			}
		}
	}
	if len(o.deployments) != 1 || len(o.services) != 1 || len(o.configMaps) != 1 || len(o.components) == 0 {
		t.Fatalf("deploy/kubernetes: %d Deployments, %d Services, %d ConfigMaps, %d Components: want one each and the components",
			len(o.deployments), len(o.services), len(o.configMaps), len(o.components))
	}
	return o
}

// container is the Deployment's app container (the one that is not the injected daprd).
func (o k8sObjects) container(t testing.TB) corev1.Container {
	t.Helper()
	cs := o.deployments[0].Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("the Deployment has %d containers: want the host alone (Dapr injects daprd)", len(cs))
	}
	return cs[0]
}

// portOf resolves a probe or Service port (a number or a container port name).
func portOf(c corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return -1
}

// k8sHost is how the host in the Deployment's container is configured: the image's entrypoint and
// environment, the container's args and env, and DAPR_HTTP_PORT as the Dapr injector sets it.
func k8sHost(t testing.TB, d *dockerImage, c corev1.Container) hostServe {
	t.Helper()
	if len(c.Command) > 0 && !reflect.DeepEqual(c.Command, []string{hostBinary}) {
		t.Fatalf("the container's command %q replaces the image's %s", c.Command, hostBinary)
	}
	args := c.Args
	if len(args) == 0 {
		args = d.final().cmd
	}
	overrides := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("env %s: valueFrom cannot be checked here; give a value", e.Name)
		}
		overrides[e.Name] = e.Value
	}
	if _, ok := overrides["DAPR_HTTP_PORT"]; !ok {
		overrides["DAPR_HTTP_PORT"] = strconv.Itoa(k8sSidecarHTTPPort)
	}
	return resolveServe(t, readServeDefaults(t, d.root), args, d.imageEnv(overrides))
}

func TestKubernetesDeployment(t *testing.T) {
	d := loadDockerfile(t)
	o := loadKubernetes(t)
	dep := o.deployments[0]
	tmpl := dep.Spec.Template
	c := o.container(t)
	h := k8sHost(t, d, c)

	// Dapr annotations agree with the host.
	ann := tmpl.Annotations
	want := map[string]string{
		"dapr.io/enabled":      "true",
		"dapr.io/app-id":       appID,
		"dapr.io/app-port":     strconv.Itoa(h.appPort),
		"dapr.io/app-protocol": h.appProtocol,
	}
	for k, v := range want {
		if ann[k] != v {
			t.Errorf("pod annotation %s: %q, want %q", k, ann[k], v)
		}
	}
	if v, ok := ann["dapr.io/enable-api-logging"]; ok && v != "true" && v != "false" {
		t.Errorf("dapr.io/enable-api-logging: %q, want true or false", v)
	}
	if v, ok := ann["dapr.io/app-health-check-path"]; ok && (v != "/healthz" || ann["dapr.io/enable-app-health-check"] != "true") {
		t.Errorf("Dapr app health check: path %q, enabled %q: want /healthz, true", v, ann["dapr.io/enable-app-health-check"])
	}
	if p := sidecarPort(t, h); p != k8sSidecarHTTPPort {
		t.Errorf("the host reaches daprd at %s: the injected sidecar listens on %d", h.sidecar.HTTPEndpoint, k8sSidecarHTTPPort)
	}
	if want := fmt.Sprintf("http://127.0.0.1:%d", k8sSidecarHTTPPort); !slices.Contains(h.allow, want) {
		t.Errorf("the guests' default allow-list %v does not include the sidecar %s", h.allow, want)
	}

	// Selector, image.
	for k, v := range dep.Spec.Selector.MatchLabels {
		if tmpl.Labels[k] != v {
			t.Errorf("the Deployment's selector %s=%s does not match its pod labels %v", k, v, tmpl.Labels)
		}
	}
	if len(dep.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("the Deployment has no selector labels")
	}
	_, compose := loadComposeSetup(t)
	if c.Image != compose.orders.Image {
		t.Errorf("the container runs %s, compose builds %s: use the same image name (README: build and load it)", c.Image, compose.orders.Image)
	}
	if _, tag := imageName(c.Image); (tag == "" || tag == "latest") && c.ImagePullPolicy != corev1.PullIfNotPresent && c.ImagePullPolicy != corev1.PullNever {
		t.Errorf("image %s with imagePullPolicy %q: a :latest image defaults to Always, and an image loaded into kind or minikube "+
			"is not in a registry; set IfNotPresent", c.Image, c.ImagePullPolicy)
	}

	// Ports and probes: the app port everywhere.
	var containerPorts []int
	for _, p := range c.Ports {
		containerPorts = append(containerPorts, int(p.ContainerPort))
	}
	if !slices.Contains(containerPorts, h.appPort) {
		t.Errorf("container ports %v do not include the app port %d", containerPorts, h.appPort)
	}
	for name, p := range map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: want an httpGet on /healthz", name)
			continue
		}
		if p.HTTPGet.Path != "/healthz" || portOf(c, p.HTTPGet.Port) != h.appPort || (p.HTTPGet.Scheme != "" && p.HTTPGet.Scheme != corev1.URISchemeHTTP) {
			t.Errorf("%s: %s %s port %s: want HTTP /healthz on %d", name, p.HTTPGet.Scheme, p.HTTPGet.Path, p.HTTPGet.Port.String(), h.appPort)
		}
	}

	// Resources: set, consistent, and above what the host has been measured to use.
	req, lim := c.Resources.Requests, c.Resources.Limits
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		rq, ok1 := req[r]
		lm, ok2 := lim[r]
		if !ok1 || !ok2 {
			t.Errorf("resources: want a %s request and limit; have requests %v, limits %v", r, req, lim)
			continue
		}
		if rq.Cmp(lm) > 0 {
			t.Errorf("resources: the %s request %s exceeds the limit %s", r, rq.String(), lm.String())
		}
	}
	peak := resource.NewQuantity(measuredPeakRSS, resource.BinarySI)
	if m, ok := req[corev1.ResourceMemory]; ok && m.Cmp(*peak) < 0 {
		t.Errorf("memory request %s is below the host's measured peak RSS %s", m.String(), peak.String())
	}
	if m, ok := lim[corev1.ResourceMemory]; ok && m.Value() < 2*measuredPeakRSS {
		t.Errorf("memory limit %s leaves less than twice the measured peak RSS %s", m.String(), peak.String())
	}

	// Security: the image's non-root user; a read-only root with the module cache on a volume.
	ps, cs := tmpl.Spec.SecurityContext, c.SecurityContext
	uid, _, _ := strings.Cut(d.final().user, ":")
	runAs := func() *int64 {
		if cs != nil && cs.RunAsUser != nil {
			return cs.RunAsUser
		}
		if ps != nil {
			return ps.RunAsUser
		}
		return nil
	}()
	nonRoot := (cs != nil && cs.RunAsNonRoot != nil && *cs.RunAsNonRoot) || (ps != nil && ps.RunAsNonRoot != nil && *ps.RunAsNonRoot)
	if !nonRoot {
		t.Errorf("set runAsNonRoot: true")
	}
	if runAs != nil && strconv.FormatInt(*runAs, 10) != uid {
		t.Errorf("runAsUser %d, the image's USER is %s", *runAs, d.final().user)
	}
	if cs != nil && cs.ReadOnlyRootFilesystem != nil && *cs.ReadOnlyRootFilesystem {
		cache := d.imageEnv(envMap(c.Env))["WASI_DAPR_CACHE_DIR"]
		if !writable(tmpl.Spec, c, cache) {
			t.Errorf("the root filesystem is read-only and the module cache %s is on no writable volume", cache)
		}
	}
}

func envMap(env []corev1.EnvVar) map[string]string {
	m := map[string]string{}
	for _, e := range env {
		m[e.Name] = e.Value
	}
	return m
}

// writable says whether p is on a writable emptyDir volume of the container.
func writable(spec corev1.PodSpec, c corev1.Container, p string) bool {
	for _, m := range c.VolumeMounts {
		if m.ReadOnly || !within(p, path.Clean(m.MountPath)) {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				return true
			}
		}
	}
	return false
}

func TestKubernetesService(t *testing.T) {
	d := loadDockerfile(t)
	o := loadKubernetes(t)
	svc := o.services[0]
	c := o.container(t)
	h := k8sHost(t, d, c)
	if svc.Spec.Type != "" && svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("Service type %s: want ClusterIP", svc.Spec.Type)
	}
	labels := o.deployments[0].Spec.Template.Labels
	if len(svc.Spec.Selector) == 0 {
		t.Errorf("the Service selects nothing")
	}
	for k, v := range svc.Spec.Selector {
		if labels[k] != v {
			t.Errorf("the Service selects %s=%s; the pods are labelled %v", k, v, labels)
		}
	}
	if svc.Name == appID+"-dapr" {
		t.Errorf("the Service is named %s, which the Dapr injector creates itself", svc.Name)
	}
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("the Service has %d ports: want the app port", len(svc.Spec.Ports))
	}
	p := svc.Spec.Ports[0]
	target := p.TargetPort
	if target.Type == intstr.Int && target.IntVal == 0 {
		target = intstr.FromInt32(p.Port)
	}
	if portOf(c, target) != h.appPort || int(p.Port) != h.appPort {
		t.Errorf("Service port %d targetPort %s: want %d to the app port %d", p.Port, target.String(), h.appPort, h.appPort)
	}
}

func TestKubernetesManifest(t *testing.T) {
	d := loadDockerfile(t)
	o := loadKubernetes(t)
	c := o.container(t)
	spec := o.deployments[0].Spec.Template.Spec
	h := k8sHost(t, d, c)
	if h.config == "" {
		t.Fatalf("the container serves no --config")
	}

	// --config is a key of the ConfigMap, mounted where it points.
	cm := o.configMaps[0]
	var key string
	for _, m := range c.VolumeMounts {
		mp := path.Clean(m.MountPath)
		if !within(h.config, mp) {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			if v.ConfigMap.Name != cm.Name {
				t.Errorf("volume %s mounts ConfigMap %s; deploy/kubernetes defines %s", v.Name, v.ConfigMap.Name, cm.Name)
			}
			file := strings.TrimPrefix(strings.TrimPrefix(h.config, mp), "/")
			if m.SubPath != "" {
				if h.config != mp {
					continue
				}
				file = m.SubPath
			}
			key = file
			for _, it := range v.ConfigMap.Items {
				key = ""
				if it.Path == file {
					key = it.Key
					break
				}
			}
		}
	}
	if key == "" {
		t.Fatalf("--config %s is on no ConfigMap volume of the container", h.config)
	}
	data, ok := cm.Data[key]
	if !ok {
		t.Fatalf("--config %s is key %s of ConfigMap %s, which has keys %v", h.config, key, cm.Name, slices.Sorted(mapsKeys(cm.Data)))
	}

	// It parses as the host parses it, its guests are in the image, and it is the sample's manifest.
	got := parseImageManifest(t, d, h.config, []byte(data))
	image := d.final().cmd
	imageConfig, _ := flagValue(image, "config")
	if imageConfig == "" {
		t.Fatalf("the image's CMD %q gives no --config to compare with", image)
	}
	want := parseImageManifest(t, d, imageConfig, readSampleManifest(t, d.root))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the ConfigMap's manifest differs from %s (the one the image and compose serve); keep them the same "+
			"apart from the module path, which must be absolute in the ConfigMap.\nConfigMap: %+v\nsample:    %+v", sampleManifest, got, want)
	}
}

func TestKubernetesComponents(t *testing.T) {
	d := loadDockerfile(t)
	o := loadKubernetes(t)
	mods := parseImageManifest(t, d, mustFlag(t, d.final().cmd, "config"), readSampleManifest(t, d.root))
	stores, pubsubs := expectedComponents(mods)
	checkComponents(t, "deploy/kubernetes/components.yaml", o.components, stores, pubsubs, "redis-master:6379")
	for _, c := range o.components {
		for _, m := range c.Spec.Metadata {
			if m.SecretKeyRef != nil && c.Auth != nil && c.Auth.SecretStore != "kubernetes" {
				t.Errorf("component %s reads secret %s from secret store %s: want kubernetes", c.Name, m.SecretKeyRef.Name, c.Auth.SecretStore)
			}
		}
	}
}

func mustFlag(t testing.TB, args []string, name string) string {
	t.Helper()
	v, ok := flagValue(args, name)
	if !ok || v == "" {
		t.Fatalf("%q gives no --%s", args, name)
	}
	return v
}

func TestFlagValue(t *testing.T) {
	args := []string{"--app-id", "a", "-app-port=1", "--app-port", "2", "--enable-x", "--resources-path=/c", "--", "--app-id", "z"}
	for name, want := range map[string]string{"app-id": "a", "app-port": "2", "resources-path": "/c"} {
		if got, ok := flagValue(args, name); !ok || got != want {
			t.Errorf("flagValue(%s) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := flagValue(args, "missing"); ok {
		t.Errorf("flagValue found a flag that is not there")
	}
}
