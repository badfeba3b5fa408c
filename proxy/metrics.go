package proxy

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// Metrics holds the gateway's request metrics in a registry of its own (no global state).
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	queueOnce sync.Once
	queues    *queueMetrics
}

// NewMetrics creates the request metrics plus the Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgate_requests_total",
			Help: "Requests served by the gateway, by verb, API group, resource and HTTP code.",
		}, []string{"verb", "group", "resource", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetgate_request_duration_seconds",
			Help:    "Latency of non-streaming requests served by the gateway, by verb, API group and resource.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"verb", "group", "resource"}),
	}
	m.registry.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// withMetrics counts every request and observes the latency of those that are not long-running
// (watches and upgraded streams would only distort the histogram).
func withMetrics(h http.Handler, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		verb, group, resource := "other", "", ""
		if info, ok := request.RequestInfoFrom(r.Context()); ok {
			if info.IsResourceRequest {
				verb, group, resource = info.Verb, info.APIGroup, info.Resource
			} else {
				verb = "nonresource"
			}
		}
		m.requests.WithLabelValues(verb, group, resource, strconv.Itoa(rec.code)).Inc()
		if verb != "watch" && rec.code != http.StatusSwitchingProtocols {
			m.latency.WithLabelValues(verb, group, resource).Observe(time.Since(start).Seconds())
		}
	})
}

// codeRecorder remembers the status code. Unwrap lets http.ResponseController reach the underlying
// writer's Flush and Hijack, which streaming and upgrades need.
type codeRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (c *codeRecorder) WriteHeader(code int) {
	if !c.wroteHeader {
		c.code, c.wroteHeader = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeRecorder) Write(b []byte) (int, error) {
	c.wroteHeader = true
	return c.ResponseWriter.Write(b)
}

func (c *codeRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }
