package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// quietWindow is how long the fleet is watched for writes once it looks converged.
const quietWindow = 3 * time.Second

// probeNamespace holds the probes; no policy selects anything there.
const probeNamespace = "chaos-quiet"

// quietMeter tells whether anything is still writing. Every cluster of the environment keeps its
// data in one etcd, so the resourceVersion of a new object is the etcd revision: two probes a
// window apart show how many writes the host and all members took in between. Probes are Leases,
// a kind no policy names, so the reconciler never sees them. When the gateway's /metrics has
// client-go's workqueue metrics, the template and member queues must also be empty and take no
// adds or retries during the window.
type quietMeter struct {
	host    kubernetes.Interface
	metrics func(ctx context.Context) (string, error)
	// idle is the number of writes in a window of the idle environment (leases, cluster status).
	idle int64
	// noQueueMetrics is set once /metrics was seen without workqueue metrics.
	noQueueMetrics bool
	probes         int
	last           quietness // the latest reading
}

// quietness is one window's reading.
type quietness struct {
	writes int64
	queues map[string]queueStats // nil without workqueue metrics
}

// measure watches one window.
func (q *quietMeter) measure(ctx context.Context) (quietness, error) {
	var r quietness
	before, err := q.probe(ctx)
	if err != nil {
		return r, err
	}
	m1, err := q.queueStats(ctx)
	if err != nil {
		return r, err
	}
	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(quietWindow): // the measurement itself, not a wait for a condition
	}
	m2, err := q.queueStats(ctx)
	if err != nil {
		return r, err
	}
	after, err := q.probe(ctx)
	if err != nil {
		return r, err
	}
	r.writes = after - before - 1
	if m1 != nil && m2 != nil {
		r.queues = map[string]queueStats{}
		for name, s := range m2 {
			b := m1[name]
			r.queues[name] = queueStats{depth: s.depth, adds: s.adds - b.adds, retries: s.retries - b.retries}
		}
	}
	q.last = r
	return r, nil
}

// describe is a reading in one line, for the loop's log.
func (r quietness) describe(queues []string) string {
	s := fmt.Sprintf("%d writes to etcd in %s", r.writes, quietWindow)
	for _, name := range queues {
		if st, ok := r.queues[name]; ok {
			s += fmt.Sprintf("; %s: depth %g, +%g adds, +%g retries", name, st.depth, st.adds, st.retries)
		}
	}
	return s
}

// problem says what is not quiet about r, "" when it is quiet.
func (q *quietMeter) problem(r quietness, queues []string) string {
	var out []string
	if bound := 2*q.idle + 10; r.writes > bound {
		out = append(out, fmt.Sprintf("%d writes to etcd in %s (idle: %d, bound %d)", r.writes, quietWindow, q.idle, bound))
	}
	for _, name := range queues {
		s, ok := r.queues[name]
		if r.queues != nil && ok && (s.depth > 0 || s.adds > 0 || s.retries > 0) {
			out = append(out, fmt.Sprintf("workqueue %q: depth %g, %g adds and %g retries in %s", name, s.depth, s.adds, s.retries, quietWindow))
		}
	}
	return strings.Join(out, "; ")
}

// probe creates a Lease in the host and returns its resourceVersion; the Lease is deleted again.
func (q *quietMeter) probe(ctx context.Context) (int64, error) {
	q.probes++
	l, err := q.host.CoordinationV1().Leases(probeNamespace).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("probe-%d", q.probes)},
	}, metav1.CreateOptions{})
	if err != nil {
		return 0, fmt.Errorf("create probe: %w", err)
	}
	rv, err := strconv.ParseInt(l.ResourceVersion, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("probe resourceVersion %q: %w", l.ResourceVersion, err)
	}
	defer func() {
		_ = q.host.CoordinationV1().Leases(probeNamespace).Delete(context.WithoutCancel(ctx), l.Name, metav1.DeleteOptions{})
	}()
	return rv, nil
}

// calibrate creates the probe namespace and measures the idle environment.
func (q *quietMeter) calibrate(ctx context.Context) error {
	_, err := q.host.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: probeNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", probeNamespace, err)
	}
	r, err := q.measure(ctx)
	if err != nil {
		return err
	}
	// The probes' own deletes land in the window too; count them as idle noise.
	q.idle = max(r.writes, 0)
	return nil
}

// queueStats is one workqueue's metrics; in a quietness reading adds and retries are deltas.
type queueStats struct{ depth, adds, retries float64 }

// queueStats scrapes the workqueue metrics; nil when /metrics has none.
func (q *quietMeter) queueStats(ctx context.Context) (map[string]queueStats, error) {
	if q.noQueueMetrics {
		return nil, nil
	}
	text, err := q.metrics(ctx)
	if err != nil {
		return nil, err
	}
	out := parseQueueMetrics(text)
	if out == nil {
		q.noQueueMetrics = true
	}
	return out, nil
}

// parseQueueMetrics reads workqueue_depth, workqueue_adds_total and workqueue_retries_total by
// queue name from Prometheus text; nil when there are none.
func parseQueueMetrics(text string) map[string]queueStats {
	var out map[string]queueStats
	s := bufio.NewScanner(strings.NewReader(text))
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		line := s.Text()
		metric, rest, ok := strings.Cut(line, "{")
		if !ok || !strings.HasPrefix(metric, "workqueue_") {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		name := labelValue(labels, "name")
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil || name == "" {
			continue
		}
		if out == nil {
			out = map[string]queueStats{}
		}
		st := out[name]
		switch metric {
		case "workqueue_depth":
			st.depth = v
		case "workqueue_adds_total":
			st.adds = v
		case "workqueue_retries_total":
			st.retries = v
		}
		out[name] = st
	}
	return out
}

// labelValue finds key="value" in a Prometheus label list (values without escaped quotes).
func labelValue(labels, key string) string {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.TrimSpace(k) == key {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// scraper returns a function that GETs url with client.
func scraper(client *http.Client, url string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", fmt.Errorf("scrape %s: %w", url, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("scrape %s: %s %v", url, resp.Status, err)
		}
		return string(body), nil
	}
}

// queueNames are the workqueues that must be quiet: the template queue and one per member.
func queueNames() []string {
	out := []string{"templates"}
	for _, m := range members {
		out = append(out, "member-"+m)
	}
	sort.Strings(out)
	return out
}
