package proxy

import (
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/util/workqueue"
)

func TestQueueMetricsAreServed(t *testing.T) {
	m := NewMetrics()
	q := workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[string]{Name: "templates", MetricsProvider: m.QueueMetrics()})
	defer q.ShutDown()
	q.Add("a")
	q.Add("b")
	_ = m.QueueMetrics() // a second provider call registers nothing twice
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`workqueue_adds_total{name="templates"} 2`, `workqueue_depth{name="templates"} 2`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
