package serve

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	errors      *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	instantiate *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wasi_dapr_requests_total",
			Help: "Requests handled, by module, kind (invoke, event, binding) and status."}, []string{"module", "kind", "status"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wasi_dapr_errors_total",
			Help: "Requests the guest did not answer validly, by module and reason."}, []string{"module", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wasi_dapr_request_duration_seconds",
			Help: "Time from request to response.", Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16)}, []string{"module"}),
		instantiate: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wasi_dapr_instantiate_duration_seconds",
			Help: "Time to make a fresh instance.", Buckets: prometheus.ExponentialBuckets(0.000005, 2, 14)}, []string{"module"}),
	}
	m.reg.MustRegister(m.requests, m.errors, m.duration, m.instantiate,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(module, kind string, status int, o outcome, d time.Duration) {
	m.requests.WithLabelValues(module, kind, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(module).Observe(d.Seconds())
	if o.instantiate > 0 {
		m.instantiate.WithLabelValues(module).Observe(o.instantiate.Seconds())
	}
	switch {
	case o.busy:
		m.errors.WithLabelValues(module, "busy").Inc()
	case o.timedOut:
		m.errors.WithLabelValues(module, "timeout").Inc()
	case o.err != nil:
		m.errors.WithLabelValues(module, "guest").Inc()
	}
}
