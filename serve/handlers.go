package serve

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wasi-dapr-host/wasi-dapr-host/manifest"
	"github.com/wasi-dapr-host/wasi-dapr-host/wagi"
)

// readBody reads at most max bytes; false means the body was larger (413) or unreadable (400).
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, bool) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "request body larger than "+strconv.FormatInt(max, 10)+" bytes", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
		}
		return nil, false
	}
	return body, true
}

// invokeRoute is the handler of one invocation route pattern of a module.
type invokeRoute struct {
	s       *Server
	m       *module
	pattern string
}

func (s *Server) invokeHandler(m *module, pattern string) http.Handler {
	return &invokeRoute{s: s, m: m, pattern: pattern}
}

func (h *invokeRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, m, pattern := h.s, h.m, h.pattern
	func() {
		start := time.Now()
		body, ok := readBody(w, r, m.spec.Limits.MaxBody)
		if !ok {
			return
		}
		o := m.run(r.Context(), wagi.FromHTTP(r, body, pattern))
		status := http.StatusOK
		switch {
		case o.busy:
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "1")
			http.Error(w, o.err.Error(), status)
		case o.timedOut:
			status = http.StatusGatewayTimeout
			http.Error(w, "the guest timed out", status)
		case o.err != nil:
			status = http.StatusInternalServerError
			http.Error(w, "the guest produced no valid response", status)
		default:
			status = o.resp.Status
			for k, vs := range o.resp.Header {
				for _, v := range vs {
					w.Header().Add(k, v)
				}
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(o.resp.Body)))
			w.WriteHeader(status)
			w.Write(o.resp.Body)
		}
		s.logRequest(m, "invoke", pattern, status, o, start)
	}()
}

// Dapr's answers to a delivered event.
const (
	eventSuccess = "SUCCESS"
	eventRetry   = "RETRY"
	eventDrop    = "DROP"
)

func (s *Server) eventHandler(m *module, sub manifest.Subscription) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		body, ok := readBody(w, r, m.spec.Limits.MaxBody)
		if !ok {
			return
		}
		q := wagi.FromHTTP(r, body, sub.Route)
		// daprd marks CloudEvents as such; a raw payload keeps the publisher's content type.
		q.ContentType = r.Header.Get("Content-Type")
		if q.ContentType == "" {
			q.ContentType = "application/cloudevents+json"
		}
		q.Extra = map[string]string{"X_DAPR_PUBSUB": sub.PubSub, "X_DAPR_TOPIC": sub.Topic}
		o := m.run(r.Context(), q)
		verdict, status := eventVerdict(o)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"` + verdict + `"}`))
		s.logRequest(m, "event", sub.PubSub+"/"+sub.Topic, status, o, start, "verdict", verdict)
	})
}

// eventVerdict maps a guest's answer to Dapr's: 2xx is SUCCESS (a JSON body {"status":"RETRY"|"DROP"}
// overrides it), 404 is DROP, anything else — another status, a trap, a timeout, a full queue — RETRY.
func eventVerdict(o outcome) (string, int) {
	if o.err != nil {
		return eventRetry, 0
	}
	status := o.resp.Status
	switch {
	case status == http.StatusNotFound:
		return eventDrop, status
	case status/100 == 2:
		var answer struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(o.resp.Body, &answer) == nil {
			switch v := strings.ToUpper(answer.Status); v {
			case eventRetry, eventDrop:
				return v, status
			}
		}
		return eventSuccess, status
	}
	return eventRetry, status
}

func (s *Server) bindingHandler(m *module, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		body, ok := readBody(w, r, m.spec.Limits.MaxBody)
		if !ok {
			return
		}
		q := wagi.FromHTTP(r, body, "/"+name)
		q.Extra = map[string]string{"X_DAPR_BINDING": name}
		o := m.run(r.Context(), q)
		status := http.StatusInternalServerError
		if o.err == nil {
			status = o.resp.Status
		}
		if status/100 == 2 {
			w.WriteHeader(http.StatusOK)
			w.Write(o.resp.Body)
		} else {
			http.Error(w, "the guest did not handle the binding event", http.StatusInternalServerError)
		}
		s.logRequest(m, "binding", name, status, o, start)
	})
}

// subscription is one entry of GET /dapr/subscribe (programmatic subscriptions).
type subscription struct {
	PubSubName      string            `json:"pubsubname"`
	Topic           string            `json:"topic"`
	Route           string            `json:"route"`
	DeadLetterTopic string            `json:"deadLetterTopic,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
}

func (s *Server) subscribe(w http.ResponseWriter, _ *http.Request) {
	subs := []subscription{}
	for _, m := range s.modules {
		for _, sub := range m.spec.Subscriptions {
			subs = append(subs, subscription{sub.PubSub, sub.Topic, sub.Route, sub.DeadLetterTopic, sub.Metadata})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(subs)
}

func (s *Server) logRequest(m *module, kind, route string, status int, o outcome, start time.Time, kv ...string) {
	d := time.Since(start)
	s.metrics.observe(m.spec.Name, kind, status, o, d)
	ev := m.log.Info()
	if o.err != nil {
		ev = m.log.Warn().Str("reason", o.err.Error())
	}
	ev = ev.Str("kind", kind).Str("route", route).Int("status", status).Dur("duration", d).Dur("instantiate", o.instantiate)
	for i := 0; i+1 < len(kv); i += 2 {
		ev = ev.Str(kv[i], kv[i+1])
	}
	ev.Msg("request")
}
