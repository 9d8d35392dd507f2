// Package wagi is the inbound contract of serve mode: WAGI / CGI 1.1 for WASI (shared/abi/wagi.md). A
// request becomes environment variables, argv and stdin; the guest's stdout is a header block, a blank
// line and the body.
package wagi

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Request is what a guest is given for one request.
type Request struct {
	Method      string
	Path        string // the path the guest serves (PATH_INFO)
	RawPath     string // as received (X_RAW_PATH_INFO)
	RawQuery    string
	Header      http.Header
	Body        []byte
	Route       string // the pattern that matched (X_MATCHED_ROUTE)
	ServerName  string
	ServerPort  string
	RemoteAddr  string
	FullURL     string
	ContentType string
	// Extra variables (the module's own env, X_DAPR_*), added after the CGI ones.
	Extra map[string]string
}

// FromHTTP fills a Request from an inbound HTTP request whose body has been read.
func FromHTTP(r *http.Request, body []byte, route string) Request {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, "80"
	}
	remote, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remote = r.RemoteAddr
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return Request{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
		Header: r.Header, Body: body, Route: route, ServerName: host, ServerPort: port, RemoteAddr: remote,
		FullURL: scheme + "://" + r.Host + r.URL.RequestURI(), ContentType: r.Header.Get("Content-Type"),
	}
}

// Env is the guest's environment for the request, as KEY=VALUE.
func (q Request) Env() []string {
	env := []string{
		"REQUEST_METHOD=" + q.Method,
		"PATH_INFO=" + q.Path,
		"X_RAW_PATH_INFO=" + q.RawPath,
		"QUERY_STRING=" + q.RawQuery,
		"CONTENT_TYPE=" + q.ContentType,
		"CONTENT_LENGTH=" + strconv.Itoa(len(q.Body)),
		"SERVER_NAME=" + q.ServerName,
		"SERVER_PORT=" + q.ServerPort,
		"SERVER_PROTOCOL=HTTP/1.1",
		"SERVER_SOFTWARE=wasi-dapr-host",
		"GATEWAY_INTERFACE=CGI/1.1",
		"SCRIPT_NAME=",
		"REMOTE_ADDR=" + q.RemoteAddr,
		"REMOTE_HOST=" + q.RemoteAddr,
		"X_MATCHED_ROUTE=" + q.Route,
		"X_FULL_URL=" + q.FullURL,
	}
	names := make([]string, 0, len(q.Header))
	for k := range q.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "Dapr-Api-Token") {
			continue // as CGI: credentials are not handed to the script
		}
		env = append(env, "HTTP_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))+"="+strings.Join(q.Header[k], ", "))
	}
	extra := make([]string, 0, len(q.Extra))
	for k := range q.Extra {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	for _, k := range extra {
		env = append(env, k+"="+q.Extra[k])
	}
	return env
}

// Args is argv[1:]: the query string's parameters, as WAGI passes them ("k=v" each, decoded).
func (q Request) Args() []string {
	if q.RawQuery == "" {
		return nil
	}
	var args []string
	for _, part := range strings.Split(q.RawQuery, "&") {
		if part == "" {
			continue
		}
		if dec, err := url.QueryUnescape(part); err == nil {
			part = dec
		}
		args = append(args, part)
	}
	return args
}

// Response is a guest's parsed answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// ErrNoHeaders is a stdout without a valid header block.
var ErrNoHeaders = errors.New("the guest wrote no header block (want header lines, a blank line, then the body)")

// ParseResponse reads the guest's stdout: header lines (name: value), a blank line, the body. One of
// content-type, status or location must be present; location alone means 302.
func ParseResponse(out []byte) (Response, error) {
	var head, body []byte
	if i := bytes.Index(out, []byte("\r\n\r\n")); i >= 0 && (bytes.Index(out, []byte("\n\n")) < 0 || i < bytes.Index(out, []byte("\n\n"))) {
		head, body = out[:i], out[i+4:]
	} else if i := bytes.Index(out, []byte("\n\n")); i >= 0 {
		head, body = out[:i], out[i+2:]
	} else {
		return Response{}, ErrNoHeaders
	}
	r := Response{Status: 200, Header: http.Header{}, Body: body}
	seen, statusSet := false, false
	for _, line := range strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n") {
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t") || strings.ContainsAny(value, "\r\x00") {
			return Response{}, fmt.Errorf("the guest wrote a malformed header line %q", truncate(line, 80))
		}
		switch strings.ToLower(name) {
		case "status":
			code, err := strconv.Atoi(strings.Fields(value + " x")[0])
			if err != nil || code < 100 || code > 999 {
				return Response{}, fmt.Errorf("the guest wrote an invalid status %q", truncate(value, 40))
			}
			r.Status = code
			seen, statusSet = true, true
		case "location":
			r.Header.Set("Location", value)
			seen = true
		case "content-type":
			seen = true
			r.Header.Add(textproto.CanonicalMIMEHeaderKey(name), value)
		default:
			r.Header.Add(textproto.CanonicalMIMEHeaderKey(name), value)
		}
	}
	if !seen {
		return Response{}, errors.New("the guest's header block has none of content-type, status or location")
	}
	if r.Header.Get("Location") != "" && !statusSet {
		r.Status = http.StatusFound // location alone means a redirect; an explicit status wins
	}
	return r, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
