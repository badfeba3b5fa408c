package proxy

import (
	"context"
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
	stages   *prometheus.HistogramVec

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
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetgate_write_stage_duration_seconds",
			Help:    "Time a write spends in each stage of the write pipeline (admission plugins, commit, handoff), by stage.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"stage"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.stages,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveWriteStage records the time one write spent in a stage of the write pipeline
// (pipeline.Config.ObserveStage).
func (m *Metrics) ObserveWriteStage(stage string, d time.Duration) {
	m.stages.WithLabelValues(stage).Observe(d.Seconds())
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// withMetrics counts every request and observes the latency of those that are not long-running
// (watches and upgraded streams would only distort the histogram). It wraps authentication, so it
// sees the refused requests too; those are labelled by code only (verb "unauthenticated"), since
// their paths are the caller's choice and would make the series unbounded. What the request asked
// for labels only requests that authenticated (authenticatedMetrics, inside authentication, records
// it).
func withMetrics(h http.Handler, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
		labels := &metricLabels{verb: "unauthenticated"}
		h.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), metricLabelsKey{}, labels)))
		m.requests.WithLabelValues(labels.verb, labels.group, labels.resource, strconv.Itoa(rec.code)).Inc()
		if labels.verb != "watch" && rec.code != http.StatusSwitchingProtocols {
			m.latency.WithLabelValues(labels.verb, labels.group, labels.resource).Observe(time.Since(start).Seconds())
		}
	})
}

// metricLabels are what withMetrics labels a request with, filled in once it authenticated.
type metricLabels struct{ verb, group, resource string }

type metricLabelsKey struct{}

// authenticatedMetrics, placed right after authentication, labels the request for withMetrics by
// its parsed RequestInfo.
func authenticatedMetrics(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if labels, ok := r.Context().Value(metricLabelsKey{}).(*metricLabels); ok {
			labels.verb, labels.group, labels.resource = "other", "", ""
			if info, ok := request.RequestInfoFrom(r.Context()); ok {
				if info.IsResourceRequest {
					labels.verb, labels.group, labels.resource = info.Verb, info.APIGroup, info.Resource
				} else {
					labels.verb = "nonresource"
				}
			}
		}
		h.ServeHTTP(w, r)
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
