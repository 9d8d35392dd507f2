package wagi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestEnvAndArgs(t *testing.T) {
	r := httptest.NewRequest("POST", "http://orders.local:8080/orders/new?x=1&name=R2%20D2", strings.NewReader("{}"))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Trace-Id", "abc")
	r.Header.Set("Dapr-Api-Token", "secret")
	r.RemoteAddr = "10.0.0.5:5555"
	q := FromHTTP(r, []byte("{}"), "/orders/...")
	q.Extra = map[string]string{"X_DAPR_TOPIC": "orders"}
	env := q.Env()
	for _, want := range []string{"REQUEST_METHOD=POST", "PATH_INFO=/orders/new", "QUERY_STRING=x=1&name=R2%20D2",
		"CONTENT_TYPE=application/json", "CONTENT_LENGTH=2", "SERVER_NAME=orders.local", "SERVER_PORT=8080",
		"GATEWAY_INTERFACE=CGI/1.1", "REMOTE_ADDR=10.0.0.5", "X_MATCHED_ROUTE=/orders/...",
		"X_FULL_URL=http://orders.local:8080/orders/new?x=1&name=R2%20D2", "HTTP_X_TRACE_ID=abc", "X_DAPR_TOPIC=orders"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %q: %v", want, env)
		}
	}
	for _, e := range env {
		if strings.Contains(e, "secret") {
			t.Errorf("the API token reached the guest: %q", e)
		}
	}
	if args := q.Args(); !slices.Equal(args, []string{"x=1", "name=R2 D2"}) {
		t.Errorf("args %q", args)
	}
}

func TestParseResponse(t *testing.T) {
	for _, c := range []struct {
		name, out string
		status    int
		body      string
		header    [2]string
		err       string
	}{
		{"content-type", "content-type: text/plain\n\nhello", 200, "hello", [2]string{"Content-Type", "text/plain"}, ""},
		{"crlf", "Content-Type: text/plain\r\nX-A: b\r\n\r\nbody\n\nmore", 200, "body\n\nmore", [2]string{"X-A", "b"}, ""},
		{"status", "status: 404\n\n", 404, "", [2]string{}, ""},
		{"status with reason", "Status: 201 Created\ncontent-type: a/b\n\n{}", 201, "{}", [2]string{"Content-Type", "a/b"}, ""},
		{"location means 302", "location: /there\n\n", 302, "", [2]string{"Location", "/there"}, ""},
		{"status wins over location", "status: 301\nlocation: /there\n\n", 301, "", [2]string{"Location", "/there"}, ""},
		{"explicit 200 with location stays 200", "status: 200\nlocation: /x\n\n", 200, "", [2]string{"Location", "/x"}, ""},
		{"location before status", "location: /x\nstatus: 201\n\n", 201, "", [2]string{"Location", "/x"}, ""},
		{"binary body", "content-type: application/octet-stream\n\n\x00\xff\x01", 200, "\x00\xff\x01", [2]string{}, ""},
		{"no header block", "just text", 0, "", [2]string{}, "no header block"},
		{"empty", "", 0, "", [2]string{}, "no header block"},
		{"garbage header", "this is not a header\n\n", 0, "", [2]string{}, "malformed header"},
		{"no required header", "x-foo: bar\n\nbody", 0, "", [2]string{}, "none of content-type"},
		{"bad status", "status: abc\n\n", 0, "", [2]string{}, "invalid status"},
	} {
		r, err := ParseResponse([]byte(c.out))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || r.Status != c.status || string(r.Body) != c.body {
			t.Errorf("%s: %+v %v", c.name, r, err)
		}
		if c.header[0] != "" && r.Header.Get(c.header[0]) != c.header[1] {
			t.Errorf("%s: header %s = %q", c.name, c.header[0], r.Header.Get(c.header[0]))
		}
	}
	_ = http.StatusOK
}
