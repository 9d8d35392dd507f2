package httpext

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
)

var errEOF = io.EOF

const (
	maxIdlePerKey = 64
	idleTimeout   = 90 * time.Second
	userAgent     = "wasi-dapr-host"
)

// pconn is a pooled HTTP/1.1 connection.
type pconn struct {
	conn      net.Conn // *blockingConn, or *tls.Conn over one
	raw       *blockingConn
	br        *bufio.Reader
	bw        *bufio.Writer
	key       string
	idleSince time.Time
}

func (pc *pconn) close() { pc.conn.Close() }

// connPool keeps idle keep-alive connections per allow-list and destination, so a connection dialed
// under one policy is never reused under another.
type connPool struct {
	mu   sync.Mutex
	idle map[string][]*pconn
}

func poolKey(list *allowlist.List, t allowlist.Target) string {
	return fmt.Sprintf("%p|%s", list, t.String())
}

func (p *connPool) get(key string) *pconn {
	p.mu.Lock()
	defer p.mu.Unlock()
	conns := p.idle[key]
	for len(conns) > 0 {
		pc := conns[len(conns)-1]
		conns = conns[:len(conns)-1]
		if time.Since(pc.idleSince) < idleTimeout {
			p.idle[key] = conns
			return pc
		}
		pc.close()
	}
	delete(p.idle, key)
	return nil
}

func (p *connPool) put(pc *pconn) {
	pc.conn.SetDeadline(time.Time{})
	pc.idleSince = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle == nil {
		p.idle = map[string][]*pconn{}
	}
	conns := p.idle[pc.key]
	// Drop connections idle too long, and keep at most maxIdlePerKey.
	kept := conns[:0]
	for _, c := range conns {
		if time.Since(c.idleSince) < idleTimeout {
			kept = append(kept, c)
		} else {
			c.close()
		}
	}
	if len(kept) >= maxIdlePerKey {
		pc.close()
		p.idle[pc.key] = kept
		return
	}
	p.idle[pc.key] = append(kept, pc)
}

// dial connects through the allow-list (which resolves and checks the address itself) and takes the
// socket over in blocking mode; https adds TLS on top.
func (x *Extension) dial(ctx context.Context, list *allowlist.List, t allowlist.Target, key string, deadline time.Time) (*pconn, error) {
	c, err := list.DialContext(ctx, t.Scheme, "tcp", t.HostPort())
	if err != nil {
		return nil, err
	}
	raw, err := newBlockingConn(c)
	if err != nil {
		return nil, err
	}
	var conn net.Conn = raw
	if t.Scheme == "https" {
		raw.SetDeadline(deadline)
		tc := tls.Client(raw, &tls.Config{ServerName: t.Host, NextProtos: []string{"http/1.1"}, RootCAs: x.cfg.RootCAs})
		if err := tc.Handshake(); err != nil {
			raw.Close()
			return nil, err
		}
		conn = tc
	}
	return &pconn{conn: conn, raw: raw, br: bufio.NewReaderSize(conn, 16<<10), bw: bufio.NewWriterSize(conn, 8<<10), key: key}, nil
}

// exchange sends one request and reads the response head on one connection, on the calling thread.
// A reused connection the server has meanwhile closed is retried once on a fresh one.
func (x *Extension) exchange(ctx context.Context, list *allowlist.List, t allowlist.Target, req *http.Request, body []byte, deadline time.Time) (*http.Response, error) {
	key := poolKey(list, t)
	for attempt := 0; ; attempt++ {
		pc := x.pool.get(key)
		reused := pc != nil
		if !reused {
			var err error
			if pc, err = x.dial(ctx, list, t, key, deadline); err != nil {
				return nil, err
			}
		}
		pc.conn.SetDeadline(deadline)
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		err := req.Write(pc.bw)
		if err == nil {
			err = pc.bw.Flush()
		}
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(pc.br, req)
		}
		if err != nil {
			pc.close()
			if reused && attempt == 0 && staleConn(err) {
				continue
			}
			return nil, err
		}
		resp.Body = &bodyReader{rc: resp.Body, pc: pc, pool: &x.pool, keep: !resp.Close && !req.Close}
		return resp, nil
	}
}

// staleConn tells whether an error means a kept-alive connection was closed by the server while idle.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// bodyReader returns the connection to the pool once the body has been read to the end; a body closed
// early closes its connection.
type bodyReader struct {
	rc   io.ReadCloser
	pc   *pconn
	pool *connPool
	keep bool
	done bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

func (b *bodyReader) finish(complete bool) {
	if b.done {
		return
	}
	b.done = true
	if complete && b.keep && b.pc.br.Buffered() == 0 {
		b.pool.put(b.pc)
	} else {
		b.pc.close()
	}
}

func (b *bodyReader) Close() error {
	b.finish(false)
	return nil
}

// send performs a request, following up to maxRedirects redirects, each hop checked against the
// allow-list, with the API token set or removed per hop.
func (s *Session) send(ctx context.Context, method string, u *url.URL, t allowlist.Target, header http.Header, body []byte, deadline time.Time) (*http.Response, error) {
	if header.Get("User-Agent") == "" {
		header.Set("User-Agent", userAgent)
	}
	for hop := 0; ; hop++ {
		req := &http.Request{Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: header.Clone(), Host: u.Host, ContentLength: int64(len(body))}
		req = req.WithContext(ctx)
		s.x.setToken(req, t)
		if len(body) == 0 {
			body = nil
		}
		resp, err := s.x.exchange(ctx, s.list, t, req, body, deadline)
		if err != nil {
			return nil, err
		}
		loc := resp.Header.Get("Location")
		switch resp.StatusCode {
		case 301, 302, 303, 307, 308:
		default:
			return resp, nil
		}
		if loc == "" {
			return resp, nil
		}
		resp.Body.Close()
		if hop+1 >= maxRedirects {
			return nil, fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		next, err := u.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("redirect to an invalid Location %q: %w", loc, err)
		}
		nt, err := allowlist.TargetFromURL(next)
		if err != nil {
			return nil, &allowlist.DeniedError{Target: t, Reason: "redirect to an invalid destination: " + err.Error(), Err: err}
		}
		if _, ok := s.list.Match(nt); !ok {
			return nil, &allowlist.DeniedError{Target: nt, Reason: "redirect to " + redact(next) + " is not in the allow-list", Suggest: s.list.Suggest(nt)}
		}
		// As browsers and Go's client do: 301/302/303 turn into a GET without a body (HEAD stays HEAD);
		// 307/308 repeat the method and body.
		if resp.StatusCode <= 303 && method != http.MethodHead {
			method, body = http.MethodGet, nil
			header.Del("Content-Type")
		}
		if nt.Host != t.Host {
			header.Del("Authorization")
			header.Del("Cookie")
		}
		u, t = next, nt
	}
}
