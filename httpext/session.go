package httpext

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/guestmem"
)

// Session is one instance's open responses. It lives only as long as the instance.
type Session struct {
	x       *Extension
	inst    *host.InstanceInfo
	list    *allowlist.List
	handles map[uint32]*response
	next    uint32
}

// response is an open handle: the status and headers are known, the body is read on demand.
type response struct {
	resp     *http.Response
	cancel   context.CancelFunc
	read     int64
	finished bool
	url      string
}

func (r *response) release() {
	r.resp.Body.Close()
	r.cancel()
}

// Close releases every handle the guest left open.
func (s *Session) Close() {
	for h, r := range s.handles {
		r.release()
		delete(s.handles, h)
	}
}

func (s *Session) req(c *wasmtime.Caller, urlPtr, urlLen, methodPtr, methodLen, hdrPtr, hdrLen, bodyPtr, bodyLen, statusPtr, handlePtr int32) int32 {
	mem, ok := guestmem.Of(c)
	if !ok {
		return MemoryNotFound
	}
	rawURL, ok1 := mem.Slice(uint32(urlPtr), uint32(urlLen))
	rawMethod, ok2 := mem.Slice(uint32(methodPtr), uint32(methodLen))
	rawHeaders, ok3 := mem.Slice(uint32(hdrPtr), uint32(hdrLen))
	body, ok4 := mem.Slice(uint32(bodyPtr), uint32(bodyLen))
	_, ok5 := mem.Slice(uint32(statusPtr), uint32(2))
	_, ok6 := mem.Slice(uint32(handlePtr), uint32(4))
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return MemoryAccessError
	}
	if !utf8.Valid(rawURL) || !utf8.Valid(rawMethod) || !utf8.Valid(rawHeaders) {
		return UTF8Error
	}
	method := string(rawMethod)
	if !isToken(method) {
		return InvalidMethod
	}
	u, err := url.Parse(string(rawURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return InvalidURL
	}
	target, err := allowlist.TargetFromURL(u)
	if err != nil {
		return InvalidURL
	}
	header, ok := parseHeaders(string(rawHeaders))
	if !ok {
		return InvalidEncoding
	}
	if len(s.handles) >= s.x.cfg.MaxHandles {
		return TooManySessions
	}
	if _, ok := s.list.Match(target); !ok {
		s.x.denied(s.inst.Module, redact(u), &allowlist.DeniedError{Target: target, Reason: "not in the allow-list", Suggest: s.list.Suggest(target)})
		return DestinationNotAllowed
	}

	timeout := s.x.cfg.Timeout
	if s.inst.HTTPTimeout > 0 {
		timeout = s.inst.HTTPTimeout
	}
	deadline := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(s.inst.Context, deadline)
	// Copied: the guest's memory may change once this call returns.
	resp, err := s.send(ctx, method, u, target, header, bytes.Clone(body), deadline)
	if err != nil {
		cancel()
		var de *allowlist.DeniedError
		if errors.As(err, &de) {
			s.x.denied(s.inst.Module, redact(u), de)
			return DestinationNotAllowed
		}
		s.x.cfg.Log.Debug().Str("module", s.inst.Module).Str("url", redact(u)).Err(err).Bool("timeout", isTimeout(err)).Msg("guest HTTP request failed")
		return RequestError
	}
	h := s.next
	s.next++
	if s.next == 0 {
		s.next = 1
	}
	s.handles[h] = &response{resp: resp, cancel: cancel, url: redact(u)}
	mem.PutU16(uint32(statusPtr), uint16(resp.StatusCode))
	mem.PutU32(uint32(handlePtr), h)
	return Success
}

func (s *Session) close(handle int32) int32 {
	r, ok := s.handles[uint32(handle)]
	if !ok {
		return InvalidHandle
	}
	r.release()
	delete(s.handles, uint32(handle))
	return Success
}

func (s *Session) headerGet(c *wasmtime.Caller, handle, namePtr, nameLen, valuePtr, valueLen, writtenPtr int32) int32 {
	r, ok := s.handles[uint32(handle)]
	if !ok {
		return InvalidHandle
	}
	mem, ok := guestmem.Of(c)
	if !ok {
		return MemoryNotFound
	}
	name, ok1 := mem.Slice(uint32(namePtr), uint32(nameLen))
	dst, ok2 := mem.Slice(uint32(valuePtr), uint32(valueLen))
	_, ok3 := mem.Slice(uint32(writtenPtr), uint32(4))
	if !(ok1 && ok2 && ok3) {
		return MemoryAccessError
	}
	if !utf8.Valid(name) {
		return UTF8Error
	}
	values := r.resp.Header.Values(string(name))
	if len(values) == 0 {
		return HeaderNotFound
	}
	value := strings.Join(values, ", ")
	if len(value) > len(dst) {
		return BufferTooSmall
	}
	copy(dst, value)
	mem.PutU32(uint32(writtenPtr), uint32(len(value)))
	return Success
}

// output checks what headers_get_all and body_read share: the handle, the memory, the output buffer
// and the place its length goes.
func (s *Session) output(c *wasmtime.Caller, handle, bufPtr, bufLen, writtenPtr int32) (*response, guestmem.Memory, []byte, int32) {
	r, ok := s.handles[uint32(handle)]
	if !ok {
		return nil, nil, nil, InvalidHandle
	}
	mem, ok := guestmem.Of(c)
	if !ok {
		return nil, nil, nil, MemoryNotFound
	}
	dst, ok1 := mem.Slice(uint32(bufPtr), uint32(bufLen))
	_, ok2 := mem.Slice(uint32(writtenPtr), 4)
	if !(ok1 && ok2) {
		return nil, nil, nil, MemoryAccessError
	}
	return r, mem, dst, Success
}

func (s *Session) headersGetAll(c *wasmtime.Caller, handle, bufPtr, bufLen, writtenPtr int32) int32 {
	r, mem, dst, code := s.output(c, handle, bufPtr, bufLen, writtenPtr)
	if code != Success {
		return code
	}
	all := encodeHeaders(r.resp.Header)
	if len(all) > len(dst) {
		return BufferTooSmall
	}
	copy(dst, all)
	mem.PutU32(uint32(writtenPtr), uint32(len(all)))
	return Success
}

func (s *Session) bodyRead(c *wasmtime.Caller, handle, bufPtr, bufLen, writtenPtr int32) int32 {
	r, mem, dst, code := s.output(c, handle, bufPtr, bufLen, writtenPtr)
	if code != Success {
		return code
	}
	if r.finished || len(dst) == 0 {
		mem.PutU32(uint32(writtenPtr), 0)
		return Success
	}
	limit := s.x.cfg.MaxBody - r.read
	if limit <= 0 {
		// At the cap: success only if the body really ends here.
		var one [1]byte
		n, err := io.ReadFull(r.resp.Body, one[:])
		if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
			r.finished = true
			mem.PutU32(uint32(writtenPtr), 0)
			return Success
		}
		s.x.cfg.Log.Warn().Str("module", s.inst.Module).Str("url", r.url).Int64("max_http_body", s.x.cfg.MaxBody).
			Msg("guest HTTP response body is larger than --max-http-body; reading stopped")
		return RuntimeError
	}
	if int64(len(dst)) > limit {
		dst = dst[:limit]
	}
	// Read straight into guest memory: no guest code runs during this call, so the slice stays valid.
	var n int
	var err error
	for n == 0 && err == nil {
		n, err = r.resp.Body.Read(dst)
	}
	r.read += int64(n)
	if err != nil && err != io.EOF {
		s.x.cfg.Log.Debug().Str("module", s.inst.Module).Str("url", r.url).Err(err).Bool("timeout", isTimeout(err)).Msg("guest HTTP response body read failed")
		if n == 0 {
			return RequestError
		}
	}
	if err == io.EOF {
		r.finished = true
	}
	mem.PutU32(uint32(writtenPtr), uint32(n))
	return Success
}

// parseHeaders reads the ABI's header encoding: "name:value\n" lines, split at the first ':'. Blank
// lines are skipped; a trailing '\r' is tolerated; anything else malformed is an error.
func parseHeaders(s string) (http.Header, bool) {
	h := http.Header{}
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return nil, false
		}
		value = strings.Trim(value, " \t")
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, false
		}
		if strings.EqualFold(name, "host") {
			// The destination is the URL's host, which the allow-list checked; a Host header must not
			// steer the request to another virtual host behind the same address.
			continue
		}
		h.Add(name, value)
	}
	return h, true
}

// encodeHeaders writes response headers as the ABI's "name:value\n" lines, names in lower case (as the
// reference host's hyper client gives them), sorted for a stable result, one line per value.
func encodeHeaders(h http.Header) string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		lk := strings.ToLower(k)
		for _, v := range h[k] {
			b.WriteString(lk)
			b.WriteByte(':')
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// isToken reports whether s is an HTTP token (RFC 9110 tchar+), as methods and header names must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
