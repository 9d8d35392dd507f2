package allowlist

import (
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestSidecar(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    []string
		errText string
	}{
		{nil, []string{
			"http://127.0.0.1:3500", "http://localhost:3500", "http://[::1]:3500",
			"tcp://127.0.0.1:3500", "tcp://localhost:3500", "tcp://[::1]:3500",
		}, ""},
		{map[string]string{"DAPR_HTTP_PORT": " 3600 "}, []string{
			"http://127.0.0.1:3600", "http://localhost:3600", "http://[::1]:3600",
			"tcp://127.0.0.1:3600", "tcp://localhost:3600", "tcp://[::1]:3600",
		}, ""},
		{map[string]string{"DAPR_GRPC_PORT": "50001"}, []string{
			"http://127.0.0.1:3500", "http://localhost:3500", "http://[::1]:3500",
			"tcp://127.0.0.1:3500", "tcp://localhost:3500", "tcp://[::1]:3500",
			"tcp://127.0.0.1:50001", "tcp://localhost:50001", "tcp://[::1]:50001",
		}, ""},
		{map[string]string{"DAPR_HTTP_ENDPOINT": "http://dapr-sidecar:3500"}, []string{
			"http://dapr-sidecar:3500", "tcp://dapr-sidecar:3500",
		}, ""},
		{map[string]string{"DAPR_HTTP_ENDPOINT": "https://X.Example/", "DAPR_HTTP_PORT": "1"}, []string{
			"https://x.example:443", "tcp://x.example:443",
		}, ""},
		{map[string]string{"DAPR_HTTP_ENDPOINT": "http://[::1]:3501", "DAPR_GRPC_PORT": "50001"}, []string{
			"http://[::1]:3501", "tcp://[::1]:3501",
			"tcp://127.0.0.1:50001", "tcp://localhost:50001", "tcp://[::1]:50001",
		}, ""},
		{map[string]string{"DAPR_HTTP_PORT": "abc"}, nil, `DAPR_HTTP_PORT="abc" is not a port number`},
		{map[string]string{"DAPR_HTTP_PORT": "0"}, nil, "DAPR_HTTP_PORT"},
		{map[string]string{"DAPR_HTTP_PORT": "65536"}, nil, "DAPR_HTTP_PORT"},
		{map[string]string{"DAPR_HTTP_PORT": "-1"}, nil, "DAPR_HTTP_PORT"},
		{map[string]string{"DAPR_GRPC_PORT": "x"}, nil, "DAPR_GRPC_PORT"},
		{map[string]string{"DAPR_GRPC_PORT": "70000"}, nil, "DAPR_GRPC_PORT"},
		{map[string]string{"DAPR_HTTP_ENDPOINT": "dapr:3500"}, nil, "must start with http:// or https://"},
		{map[string]string{"DAPR_HTTP_ENDPOINT": "grpc://dapr:3500"}, nil, "must start with http:// or https://"},
		{map[string]string{"DAPR_HTTP_ENDPOINT": "http://dapr:99999"}, nil, "out of range"},
		{map[string]string{"DAPR_HTTP_ENDPOINT": "http://"}, nil, "host is empty"},
		{map[string]string{"DAPR_HTTP_ENDPOINT": "http://127.1:3500"}, nil, "ambiguous IPv4"},
		{map[string]string{"DAPR_HTTP_ENDPOINT": "http://a b"}, nil, "DAPR_HTTP_ENDPOINT"},
	}
	for _, tt := range tests {
		got, err := Sidecar(envOf(tt.env))
		if tt.errText != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("Sidecar(%v) = %v, %v; want error containing %q", tt.env, got, err, tt.errText)
			}
			if _, err2 := SidecarTargets(envOf(tt.env)); (err2 == nil) != strings.Contains(tt.errText, "GRPC") {
				t.Errorf("SidecarTargets(%v) error = %v", tt.env, err2)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("Sidecar(%v) = %q, %v; want %q", tt.env, got, err, tt.want)
			continue
		}
		// The defaults must parse, and must not allow a neighbouring port.
		l := mustParse(t, got...)
		for _, r := range l.Rules() {
			if r.defaultPort || r.portLow != r.portHigh {
				t.Errorf("sidecar rule %v is not a single port", r)
			}
		}
	}
}

func TestSidecarAllowsOnlySidecar(t *testing.T) {
	entries, err := Sidecar(envOf(map[string]string{"DAPR_GRPC_PORT": "50001"}))
	if err != nil {
		t.Fatal(err)
	}
	l := mustParse(t, entries...)
	allowed := []Target{
		{Scheme: "http", Host: "127.0.0.1", Port: 3500},
		{Scheme: "http", Host: "localhost", Port: 3500},
		{Scheme: "http", Host: "::1", Port: 3500},
		{Scheme: "tcp", Host: "localhost", Port: 3500},
		{Scheme: "tcp", Host: "127.0.0.1", Port: 50001},
	}
	denied := []Target{
		{Scheme: "http", Host: "127.0.0.1", Port: 3501},
		{Scheme: "https", Host: "127.0.0.1", Port: 3500},
		{Scheme: "http", Host: "127.0.0.1", Port: 50001},
		{Scheme: "http", Host: "example.com", Port: 3500},
		{Scheme: "tcp", Host: "127.0.0.2", Port: 3500},
		{Scheme: "http", Host: "169.254.169.254", Port: 80},
	}
	for _, tg := range allowed {
		if _, ok := l.Match(tg); !ok {
			t.Errorf("sidecar defaults deny %v", tg)
		}
	}
	for _, tg := range denied {
		if _, ok := l.Match(tg); ok {
			t.Errorf("sidecar defaults allow %v", tg)
		}
	}
}

func TestSidecarTargets(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{nil, []string{"http://127.0.0.1:3500", "http://localhost:3500", "http://[::1]:3500"}},
		{map[string]string{"DAPR_HTTP_PORT": "3600", "DAPR_GRPC_PORT": "50001"}, []string{"http://127.0.0.1:3600", "http://localhost:3600", "http://[::1]:3600"}},
		{map[string]string{"DAPR_HTTP_ENDPOINT": "https://Dapr.Example:8443/x"}, []string{"https://dapr.example:8443"}},
		{map[string]string{"DAPR_HTTP_ENDPOINT": "http://dapr-sidecar"}, []string{"http://dapr-sidecar:80"}},
	}
	for _, tt := range tests {
		got, err := SidecarTargets(envOf(tt.env))
		if err != nil {
			t.Errorf("SidecarTargets(%v): %v", tt.env, err)
			continue
		}
		var s []string
		for _, tg := range got {
			s = append(s, tg.String())
		}
		if strings.Join(s, " ") != strings.Join(tt.want, " ") {
			t.Errorf("SidecarTargets(%v) = %q, want %q", tt.env, s, tt.want)
		}
		// Every sidecar target is allowed by the sidecar defaults.
		entries, err := Sidecar(envOf(tt.env))
		if err != nil {
			t.Fatal(err)
		}
		l := mustParse(t, entries...)
		for _, tg := range got {
			if _, ok := l.Match(tg); !ok {
				t.Errorf("sidecar target %v not allowed by %v", tg, entries)
			}
		}
	}
}

func TestSidecarNilGetenv(t *testing.T) {
	t.Setenv("DAPR_HTTP_ENDPOINT", "")
	t.Setenv("DAPR_HTTP_PORT", "4000")
	t.Setenv("DAPR_GRPC_PORT", "")
	got, err := Sidecar(nil)
	if err != nil || len(got) != 6 || got[0] != "http://127.0.0.1:4000" {
		t.Fatalf("Sidecar(nil) = %v, %v", got, err)
	}
	targets, err := SidecarTargets(nil)
	if err != nil || len(targets) != 3 || targets[0].Port != 4000 {
		t.Fatalf("SidecarTargets(nil) = %v, %v", targets, err)
	}
}
