package foundation

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/cache"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

const (
	// floodWorkers is how many requests with random bearer tokens are in flight at once. Before the
	// fix every one of them waited in the one host client limiter (200 QPS) that the probes' Secret
	// reads wait in too: with 1500 waiting, a read waits 7.5s, past the 5s probe timeout.
	floodWorkers = 1500
	// floodDuration outlasts the environment's failure threshold (3s) plus two probe periods (3s
	// each) plus a probe timeout (5s), and the positive TokenReview cache (10s) of the legitimate
	// token client, with a margin.
	floodDuration = 25 * time.Second
	// legitPeriod paces each legitimate client's GETs.
	legitPeriod = 100 * time.Millisecond
)

// TestBadTokenFloodLeavesMembersReady (issue 10, item 2): a flood of random bearer tokens, far more
// than the host TokenReview budget, for longer than the health thresholds. member1 must stay
// Ready=True throughout (watched on the host, with a positive signal that probes kept being
// recorded: a Node added to member1 mid-flood shows up in its nodeSummary before the flood ends),
// and a legitimate certificate client and a legitimate token client keep getting answers; right
// after the flood a token never seen before is accepted. The latencies idle and under flood are
// logged (not asserted: the machine is shared).
func TestBadTokenFloodLeavesMembersReady(t *testing.T) {
	ctx := t.Context()
	env := framework.Env
	waitReady(t, "member1", "True", 30*time.Second)

	hostKube, err := kubernetes.NewForConfig(env.Host.Config)
	if err != nil {
		t.Fatal(err)
	}
	hostDyn, err := dynamic.NewForConfig(env.Host.Config)
	if err != nil {
		t.Fatal(err)
	}
	memberKube, err := kubernetes.NewForConfig(env.Member("member1").Config)
	if err != nil {
		t.Fatal(err)
	}

	// The legitimate clients: the admin certificate, and a ServiceAccount token allowed to read one
	// ConfigMap.
	ns := "e2e-flood"
	if _, err := hostKube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = hostKube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	token := floodReaderToken(t, hostKube, ns)
	path := "/api/v1/namespaces/" + ns + "/configmaps/target"
	admin, err := rest.HTTPClientFor(env.GatewayConfig)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := rest.HTTPClientFor(&rest.Config{Host: env.GatewayURL, BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{CAData: env.GatewayConfig.CAData}})
	if err != nil {
		t.Fatal(err)
	}
	legit := map[string]*http.Client{"certificate": admin, "token": reader}
	framework.Eventually(t, 30*time.Second, func() error { // the Role reaches the host's authorizer
		_, err := legitGet(ctx, reader, env.GatewayURL+path)
		return err
	})

	idle := map[string][]sample{}
	for name, c := range legit {
		lat, errs := legitLoop(ctx, c, env.GatewayURL+path, 50)
		if len(errs) > 0 {
			t.Fatalf("%s client, idle gateway: %v", name, errs[0])
		}
		idle[name] = lat
	}

	// Watch member1 on the host itself (not through the gateway under flood).
	c, err := client.Clusters(hostDyn).Get(ctx, "", "member1")
	if err != nil {
		t.Fatal(err)
	}
	nodesBefore := int32(0)
	if c.Status.NodeSummary != nil {
		nodesBefore = c.Status.NodeSummary.TotalNum
	}
	w, err := hostDyn.Resource(cache.ClustersGVR).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", "member1").String(), ResourceVersion: c.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	floodCtx, stopFlood := context.WithTimeout(ctx, floodDuration)
	defer stopFlood()
	codes := flood(floodCtx, t, env.GatewayURL)

	// Legitimate clients during the flood, until it ends.
	var wg sync.WaitGroup
	var mu sync.Mutex
	loaded := map[string][]sample{}
	failures := map[string][]error{}
	for name, c := range legit {
		wg.Go(func() {
			lat, errs := legitLoop(floodCtx, c, env.GatewayURL+path, -1)
			mu.Lock()
			loaded[name], failures[name] = lat, errs
			mu.Unlock()
		})
	}

	// Half-way, a Node appears in member1: a probe recorded during the flood must report it.
	witness := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "flood-witness"}}
	addWitness := time.After(floodDuration / 2)
	t.Cleanup(func() {
		_ = memberKube.CoreV1().Nodes().Delete(context.Background(), witness.Name, metav1.DeleteOptions{})
	})
	var notReady []string
	seenWitness, events := false, 0
watching:
	for {
		select {
		case <-addWitness:
			if _, err := memberKube.CoreV1().Nodes().Create(ctx, witness, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create Node %s in member1: %v", witness.Name, err)
			}
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch of Cluster member1 on the host ended during the flood")
			}
			u, isObj := ev.Object.(*unstructured.Unstructured)
			if ev.Type == watch.Error || !isObj {
				t.Fatalf("watch of Cluster member1: %s %v", ev.Type, ev.Object)
			}
			cl, err := client.FromUnstructured[clusterv1alpha1.Cluster](u)
			if err != nil {
				t.Fatal(err)
			}
			events++
			if cond := meta.FindStatusCondition(cl.Status.Conditions, clusterv1alpha1.ClusterConditionReady); cond == nil || cond.Status != metav1.ConditionTrue {
				notReady = append(notReady, fmt.Sprintf("%s: %+v", time.Now().Format(time.TimeOnly), cond))
			}
			if cl.Status.NodeSummary != nil && cl.Status.NodeSummary.TotalNum > nodesBefore {
				seenWitness = true
			}
		case <-floodCtx.Done():
			break watching
		}
	}
	wg.Wait()
	total := codes.report(t)

	// The flood's abandoned requests hold nothing: a token never seen before is answered at once.
	fresh, err := hostKube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "reader", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	freshClient, err := rest.HTTPClientFor(&rest.Config{Host: env.GatewayURL, BearerToken: fresh.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: env.GatewayConfig.CAData}})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := legitGet(ctx, freshClient, env.GatewayURL+path); err != nil {
		t.Errorf("a new token right after the flood: %v", err)
	} else {
		t.Logf("a new token right after the flood was answered in %s", d.Round(time.Millisecond))
	}

	if len(notReady) > 0 {
		t.Errorf("member1 not Ready during the flood (%d times); first: %s", len(notReady), notReady[0])
	}
	if !seenWitness {
		t.Errorf("no probe of member1 was recorded during the flood: the Node added half-way never reached its nodeSummary (%d watch events)", events)
	}
	for name := range legit {
		if errs := failures[name]; len(errs) > 0 {
			t.Errorf("%s client: %d of %d requests failed during the flood; first: %v", name, len(errs), len(errs)+len(loaded[name]), errs[0])
		}
		logLatency(t, name+" client (whole flood)", idle[name], loaded[name])
		var steady []sample
		for _, s := range loaded[name] {
			if s.at.After(codes.connected) {
				steady = append(steady, s)
			}
		}
		logLatency(t, name+" client (once the flood's connections were open)", idle[name], steady)
	}
	if codes.connected.IsZero() {
		t.Errorf("the flood's %d workers never all sent a request", floodWorkers)
	} else {
		t.Logf("the flood's %d connections were open %s after it began", floodWorkers, codes.connected.Sub(codes.start).Round(time.Millisecond))
	}
	if total < floodWorkers {
		t.Errorf("the flood made %d requests, fewer than its %d workers", total, floodWorkers)
	}
}

// floodReaderToken creates a ServiceAccount in ns allowed to get ConfigMap target there, and
// returns a token for it.
func floodReaderToken(t *testing.T, kube kubernetes.Interface, ns string) string {
	t.Helper()
	ctx := t.Context()
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "target"}, Data: map[string]string{"a": "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "read-target"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"target"}, Verbs: []string{"get"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "read-target"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "read-target"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "reader"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "reader", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// legitGet GETs url and returns how long the answer took; anything but 200 is an error.
func legitGet(ctx context.Context, c *http.Client, url string) (time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return time.Since(start), nil
}

// sample is one answered request: when it started and how long it took.
type sample struct {
	at time.Time
	d  time.Duration
}

// legitLoop GETs url every legitPeriod, n times (n < 0: until ctx is done), and returns the
// answers and the errors. A request cut by ctx's end is not counted.
func legitLoop(ctx context.Context, c *http.Client, url string, n int) ([]sample, []error) {
	var lat []sample
	var errs []error
	tick := time.NewTicker(legitPeriod)
	defer tick.Stop()
	for i := 0; n < 0 || i < n; i++ {
		at := time.Now()
		d, err := legitGet(ctx, c, url)
		switch {
		case ctx.Err() != nil:
			return lat, errs
		case err != nil:
			errs = append(errs, err)
		default:
			lat = append(lat, sample{at, d})
		}
		select {
		case <-ctx.Done():
			return lat, errs
		case <-tick.C:
		}
	}
	return lat, errs
}

// floodCodes counts the flood's answers by status code (0: no answer), and notes when every
// worker had written its first request (its connection's TLS handshake done).
type floodCodes struct {
	mu        sync.Mutex
	codes     map[int]int
	start     time.Time
	connected time.Time
	done      chan struct{}
}

// flood sends GETs with random bearer tokens from floodWorkers goroutines, each on its own
// connection, until ctx is done.
func flood(ctx context.Context, t *testing.T, gatewayURL string) *floodCodes {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(framework.Env.GatewayConfig.CAData)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: floodWorkers}
	fc := &floodCodes{codes: map[int]int{}, start: time.Now(), done: make(chan struct{})}
	var wg sync.WaitGroup
	var wrote atomic.Int32
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
		if wrote.Add(1) == floodWorkers {
			fc.mu.Lock()
			fc.connected = time.Now()
			fc.mu.Unlock()
		}
	}}
	for range floodWorkers {
		wg.Go(func() {
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			b := make([]byte, 24)
			for i := 0; ctx.Err() == nil; i++ {
				_, _ = rand.Read(b)
				rctx := ctx
				if i == 0 {
					rctx = httptrace.WithClientTrace(ctx, trace)
				}
				req, _ := http.NewRequestWithContext(rctx, http.MethodGet, gatewayURL+"/api/v1/namespaces/default/configmaps", nil)
				req.Header.Set("Authorization", "Bearer flood-"+hex.EncodeToString(b))
				code := 0
				if resp, err := c.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				} else if ctx.Err() != nil {
					return
				}
				fc.mu.Lock()
				fc.codes[code]++
				fc.mu.Unlock()
			}
		})
	}
	go func() {
		wg.Wait()
		tr.CloseIdleConnections()
		close(fc.done)
	}()
	return fc
}

// report waits for the flood's workers, logs what the flood got and returns how many answers.
func (fc *floodCodes) report(t *testing.T) int {
	<-fc.done
	fc.mu.Lock()
	defer fc.mu.Unlock()
	total := 0
	for _, n := range fc.codes {
		total += n
	}
	elapsed := time.Since(fc.start)
	t.Logf("flood: %d workers, %d requests in %s (%.0f/s), by code (0: no answer): %v",
		floodWorkers, total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), fc.codes)
	return total
}

func logLatency(t *testing.T, name string, idle, loaded []sample) {
	if len(idle) == 0 || len(loaded) == 0 {
		t.Logf("%s: no latencies (idle %d, flood %d)", name, len(idle), len(loaded))
		return
	}
	q := func(samples []sample, p float64) time.Duration {
		s := make([]time.Duration, len(samples))
		for i, x := range samples {
			s[i] = x.d
		}
		slices.Sort(s)
		return s[int(p*float64(len(s)-1))]
	}
	for _, p := range []float64{.5, .9, .99} {
		i, l := q(idle, p), q(loaded, p)
		t.Logf("%s GET p%.0f: idle %s (%d requests), under flood %s (%d requests): %.2f×",
			name, p*100, i.Round(time.Microsecond), len(idle), l.Round(time.Microsecond), len(loaded), float64(l)/float64(i))
	}
}
