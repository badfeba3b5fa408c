package main

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
)

// requestCounts is a kube-apiserver's apiserver_request_total, summed by "VERB resource[/sub]" with
// " (dry run)" appended for dry-run requests. Requests without a resource (probes, /version, …) are
// left out.
type requestCounts map[string]float64

// scrapeMetrics reads and parses a server's /metrics.
func scrapeMetrics(ctx context.Context, k kubernetes.Interface) (map[string]*dto.MetricFamily, error) {
	raw, err := k.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("read /metrics: %w", err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	return families, nil
}

// scrapeRequests reads the apiserver_request_total of an apiserver's /metrics.
func scrapeRequests(ctx context.Context, k kubernetes.Interface) (requestCounts, error) {
	families, err := scrapeMetrics(ctx, k)
	if err != nil {
		return nil, err
	}
	out := requestCounts{}
	for _, m := range families["apiserver_request_total"].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		if l["resource"] == "" {
			continue
		}
		key := l["verb"] + " " + l["resource"]
		if l["subresource"] != "" {
			key += "/" + l["subresource"]
		}
		if l["dry_run"] != "" {
			key += " (dry run)"
		}
		out[key] += m.GetCounter().GetValue()
	}
	return out, nil
}

// sub returns c - before.
func (c requestCounts) sub(before requestCounts) requestCounts {
	d := requestCounts{}
	for k, v := range c {
		if x := v - before[k]; x != 0 {
			d[k] = x
		}
	}
	return d
}

// add adds o to c.
func (c requestCounts) add(o requestCounts) {
	for k, v := range o {
		c[k] += v
	}
}

// total is the sum over every key.
func (c requestCounts) total() float64 {
	t := 0.0
	for _, v := range c {
		t += v
	}
	return t
}

// per prints c divided by n, largest first, e.g. "POST deployments 1.00, GET leases 0.10"; keys
// below 0.05 per unit (background traffic) are left out.
func (c requestCounts) per(n float64) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if c[keys[i]] != c[keys[j]] {
			return c[keys[i]] > c[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		if v := c[k] / n; v >= 0.05 {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, v))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// countRequests runs do and returns the requests the host and the members (summed) served meanwhile.
func countRequests(ctx context.Context, host kubernetes.Interface, members []kubernetes.Interface, do func() error) (hostCounts, memberCounts requestCounts, err error) {
	scrapeAll := func() (requestCounts, []requestCounts, error) {
		h, err := scrapeRequests(ctx, host)
		if err != nil {
			return nil, nil, err
		}
		ms := make([]requestCounts, len(members))
		for i, m := range members {
			if ms[i], err = scrapeRequests(ctx, m); err != nil {
				return nil, nil, err
			}
		}
		return h, ms, nil
	}
	h0, m0, err := scrapeAll()
	if err != nil {
		return nil, nil, err
	}
	if err := do(); err != nil {
		return nil, nil, err
	}
	h1, m1, err := scrapeAll()
	if err != nil {
		return nil, nil, err
	}
	memberCounts = requestCounts{}
	for i := range members {
		memberCounts.add(m1[i].sub(m0[i]))
	}
	return h1.sub(h0), memberCounts, nil
}

// histograms reads the sums and counts of the histograms named in names from a /metrics (the
// gateway's), keyed "<histogram>{<label>}" by the value of the label given for that name.
func histograms(ctx context.Context, k kubernetes.Interface, names map[string]string) (map[string][2]float64, error) {
	families, err := scrapeMetrics(ctx, k)
	if err != nil {
		return nil, err
	}
	out := map[string][2]float64{}
	for name, label := range names {
		for _, m := range families[name].GetMetric() {
			v := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					v = lp.GetValue()
				}
			}
			h := m.GetHistogram()
			out[name+"{"+v+"}"] = [2]float64{h.GetSampleSum(), float64(h.GetSampleCount())}
		}
	}
	return out, nil
}

// meanDurations prints, for the histograms that changed between before and after, the mean of the
// new samples, e.g. "resolve 2.1ms (10)".
func meanDurations(before, after map[string][2]float64, order []string) string {
	var parts []string
	keys := make([]string, 0, len(after))
	for k := range after {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		for i, o := range order {
			if strings.Contains(k, "{"+o+"}") {
				return i
			}
		}
		return len(order)
	}
	sort.Slice(keys, func(i, j int) bool {
		if rank(keys[i]) != rank(keys[j]) {
			return rank(keys[i]) < rank(keys[j])
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		n := after[k][1] - before[k][1]
		if n <= 0 {
			continue
		}
		mean := time.Duration((after[k][0] - before[k][0]) / n * float64(time.Second))
		label := k[strings.IndexByte(k, '{')+1 : len(k)-1]
		parts = append(parts, fmt.Sprintf("%s %s (%.0f)", label, round(mean), n))
	}
	return strings.Join(parts, ", ")
}
