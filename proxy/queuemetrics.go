package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/util/workqueue"
)

// queueMetrics exports client-go work queue metrics under the names Kubernetes components use
// (workqueue_depth, workqueue_adds_total, …, label "name" = the queue's name) in the gateway's
// registry: the reconciler's queues show on /metrics.
type queueMetrics struct {
	depth                   *prometheus.GaugeVec
	adds, retries           *prometheus.CounterVec
	latency, workDuration   *prometheus.HistogramVec
	unfinished, longestWork *prometheus.GaugeVec
}

var _ workqueue.MetricsProvider = (*queueMetrics)(nil)

// QueueMetrics returns a work queue metrics provider that registers in m's registry.
func (m *Metrics) QueueMetrics() workqueue.MetricsProvider {
	m.queueOnce.Do(func() {
		buckets := prometheus.ExponentialBuckets(10e-9, 10, 12)
		q := &queueMetrics{
			depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "workqueue_depth", Help: "Current depth of the work queue."}, []string{"name"}),
			adds:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workqueue_adds_total", Help: "Adds handled by the work queue."}, []string{"name"}),
			retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workqueue_retries_total",
				Help: "Retries (rate-limited adds) handled by the work queue."}, []string{"name"}),
			latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "workqueue_queue_duration_seconds",
				Help: "Seconds an item stays in the work queue before it is taken up.", Buckets: buckets}, []string{"name"}),
			workDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "workqueue_work_duration_seconds",
				Help: "Seconds processing an item from the work queue takes.", Buckets: buckets}, []string{"name"}),
			unfinished: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "workqueue_unfinished_work_seconds",
				Help: "Seconds of work in progress not yet observed by work_duration."}, []string{"name"}),
			longestWork: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "workqueue_longest_running_processor_seconds",
				Help: "Seconds the longest running processor of the work queue has been running."}, []string{"name"}),
		}
		m.registry.MustRegister(q.depth, q.adds, q.retries, q.latency, q.workDuration, q.unfinished, q.longestWork)
		m.queues = q
	})
	return m.queues
}

func (q *queueMetrics) NewDepthMetric(name string) workqueue.GaugeMetric {
	return q.depth.WithLabelValues(name)
}
func (q *queueMetrics) NewAddsMetric(name string) workqueue.CounterMetric {
	return q.adds.WithLabelValues(name)
}
func (q *queueMetrics) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return q.latency.WithLabelValues(name)
}
func (q *queueMetrics) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return q.workDuration.WithLabelValues(name)
}
func (q *queueMetrics) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return q.unfinished.WithLabelValues(name)
}
func (q *queueMetrics) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return q.longestWork.WithLabelValues(name)
}
func (q *queueMetrics) NewRetriesMetric(name string) workqueue.CounterMetric {
	return q.retries.WithLabelValues(name)
}
