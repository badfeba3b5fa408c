package reconcile_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/apis/client"
	"github.com/fleetgate/fleetgate/propagate/cache"
	"github.com/fleetgate/fleetgate/propagate/reconcile"
)

// gate holds the bodies of the watches it wraps while it is closed: the cache reading them lags.
type gate struct {
	mu     sync.Mutex
	cond   *sync.Cond
	closed bool
}

func newGate() *gate { g := &gate{}; g.cond = sync.NewCond(&g.mu); return g }

func (g *gate) set(closed bool) {
	g.mu.Lock()
	g.closed = closed
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) wait() {
	g.mu.Lock()
	for g.closed {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

type gatedBody struct {
	io.ReadCloser
	g *gate
}

// Read hands out what arrived only while the gate is open (a read already waiting for data when
// the gate closes holds that data back too).
func (b gatedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.g.wait()
	return n, err
}

// A cluster that the cached binding does not list yet (the cache lags behind the host) but that
// the host's binding places the template on keeps its copy, although it now has a NoSchedule
// taint that keeps new placements off: deletes are decided from what the host holds.
func TestLaggingBindingCacheDeletesNothing(t *testing.T) {
	e := sharedEnv(t)
	ctx := context.Background()
	g := newGate()
	t.Cleanup(func() { g.set(false) })
	cacheCfg := rest.CopyConfig(e.env.Host.Config)
	cacheCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return intercepting{next: rt, f: func(r *http.Request, next http.RoundTripper) (*http.Response, error) {
			resp, err := next.RoundTrip(r)
			if err == nil && r.URL.Query().Get("watch") == "true" && strings.Contains(r.URL.Path, "/resourcebindings") {
				resp.Body = gatedBody{ReadCloser: resp.Body, g: g}
			}
			return resp, err
		}}
	})
	cacheHost, err := dynamic.NewForConfig(cacheCfg)
	if err != nil {
		t.Fatal(err)
	}
	const ns, markerNS = "stale", "stale-marker"
	e.namespace(t, ns, nil)
	e.namespace(t, markerNS, nil)
	e.startControllerWith(t, func(o *reconcile.Options) {
		o.Cache, o.Workers, o.ClusterWorkers = cache.New(cacheHost), 1, 1
	}, nil)
	e.policy(t, configMapPolicy(ns, "member1"))
	e.createConfigMap(t, ns, "placed", map[string]string{"k": "v"})
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "placed-configmap", "member1") })

	// The cache stops seeing binding changes; the template is placed on member2 too.
	g.set(true)
	e.policy(t, configMapPolicy(ns, "member1", "member2"))
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "placed-configmap", "member1", "member2") })
	copy2, err := e.memberObject("member2", configMaps, ns, "placed")
	if err != nil || copy2 == nil {
		t.Fatalf("member2's copy: %v %v", copy2, err)
	}

	// member2 gets a NoSchedule taint: placed templates stay, new placements go elsewhere. To a
	// pass reading the lagging cached binding, member2 looks unplaced.
	taint := corev1.Taint{Key: "example.com/maintenance", Effect: corev1.TaintEffectNoSchedule}
	setTaints := func(taints []corev1.Taint) {
		clusters := client.Clusters(e.host)
		cl, err := clusters.Get(ctx, "", "member2")
		if err != nil {
			t.Fatal(err)
		}
		cl.Spec.Taints = append(cl.Spec.Taints[:0:0], taints...)
		if _, err := clusters.Update(ctx, cl, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setTaints([]corev1.Taint{taint})
	t.Cleanup(func() { setTaints(nil) })

	// A positive signal that member2's queue has done what that pass asked: a marker that
	// tolerates the taint, placed on member2 after it (one worker per queue: in order).
	marker := configMapPolicy(markerNS, "member2")
	marker.Spec.Placement.ClusterTolerations = []corev1.Toleration{{Key: taint.Key, Operator: corev1.TolerationOpExists}}
	e.policy(t, marker)
	e.createConfigMap(t, markerNS, "marker", map[string]string{"k": "v"})
	eventually(t, waitLong, func() error { return e.hasCopy("member2", configMaps, markerNS, "marker", "k", "v") })

	now, err := e.memberObject("member2", configMaps, ns, "placed")
	switch {
	case err != nil:
		t.Fatal(err)
	case now == nil || now.GetDeletionTimestamp() != nil:
		t.Fatal("member2's copy was deleted: a lagging cached binding made a placed cluster look unplaced")
	case now.GetUID() != copy2.GetUID():
		t.Fatalf("member2's copy was deleted and written again (uid %s → %s)", copy2.GetUID(), now.GetUID())
	}
}
