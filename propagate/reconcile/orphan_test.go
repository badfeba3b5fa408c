package reconcile_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/apis/client"
	"github.com/fleetgate/fleetgate/bootstrap/access"
	"github.com/fleetgate/fleetgate/propagate/member"
	"github.com/fleetgate/fleetgate/propagate/reconcile"
)

// The sweep deletes a member copy whose template is gone from the host, and only that copy: not a
// copy of an earlier template of the same name (the live template's reconcile rewrites it), and
// not one re-created or rewritten for a new template between the sweep's list and its delete.
// (TestOrphanSweep covers a template lost while no reconciler ran.)

// A copy of an earlier template of that name (its template-uid is not the live template's) that
// the sweep lists before the template is in its cache is left to the live template, which rewrites
// it in place: it is never deleted.
func TestOrphanSweepLeavesCopyOfEarlierTemplateToTheLiveOne(t *testing.T) {
	e := sharedEnv(t)
	ns, name := uniqueNamespace("orphan-earlier"), "cm"
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns, "member1"))
	stale := e.orphanCopy(t, ns, name, map[string]string{"k": "old"})
	var once sync.Once
	fired := make(chan struct{})
	deletes := &memberDeletes{}
	// The template appears between the sweep's list (it did not exist: the copy is an orphan)
	// and the sweep's check in the host.
	e.startInterceptedController(t, func(r *http.Request, next http.RoundTripper) (*http.Response, error) {
		if !isGet(r, ns, name) {
			return next.RoundTrip(r)
		}
		first := false
		once.Do(func() {
			first = true
			if _, err := e.createTemplate(ns, name, "new"); err != nil {
				t.Errorf("create template: %v", err)
			}
		})
		resp, err := next.RoundTrip(r)
		if first {
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("the sweep's check of the template did not find it: %v %v", resp, err)
			}
			close(fired)
		}
		return resp, err
	}, memberSide(fired, deletes, ns, name))
	waitFired(t, fired)
	e.wantLiveCopy(t, ns, name, "new", stale)
	deletes.wantNone(t)
}

// Between the sweep's list of an orphan (its template gone) and its delete, the template is
// created again and its copy written (re-created, or rewritten in place): that copy stays, while
// a copy whose template is truly gone, swept alongside, is deleted.
func TestOrphanSweepKeepsCopyWrittenSinceTheList(t *testing.T) {
	e := sharedEnv(t)
	for _, tc := range []struct {
		name      string
		recreate  bool // delete the listed copy and create another; else rewrite it in place
		namespace string
	}{
		{name: "rewritten in place", namespace: "orphan-rewritten"},
		{name: "re-created", recreate: true, namespace: "orphan-recreated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, name := uniqueNamespace(tc.namespace), "cm"
			e.namespace(t, ns, nil)
			e.policy(t, configMapPolicy(ns, "member1"))
			listed := e.orphanCopy(t, ns, name, map[string]string{"k": "old"})
			e.orphanCopy(t, ns, "gone", map[string]string{"k": "v"})
			var once sync.Once
			fired := make(chan struct{})
			var written types.UID
			deletes := &memberDeletes{}
			// The host says the template is gone; before the sweep acts on that, the template is
			// created again and its copy written, as its reconcile (or the gateway) would.
			e.startInterceptedController(t, func(r *http.Request, next http.RoundTripper) (*http.Response, error) {
				resp, err := next.RoundTrip(r)
				if err == nil && resp.StatusCode == http.StatusNotFound && isGet(r, ns, name) {
					once.Do(func() {
						written = e.writeCopyOfNewTemplate(t, ns, name, tc.recreate)
						close(fired)
					})
				}
				return resp, err
			}, memberSide(fired, deletes, ns, name))
			waitFired(t, fired)
			if tc.recreate && written == listed {
				t.Fatalf("the re-created copy has the listed copy's UID %s", listed)
			}
			e.wantLiveCopy(t, ns, name, "new", written)
			deletes.wantNone(t)
			eventually(t, waitLong, func() error { return e.noCopy("member1", configMaps, ns, "gone") })
		})
	}
}

var namespaceSeq atomic.Int64

// uniqueNamespace is a new namespace name for each run (-count) of a test in the shared
// environment.
func uniqueNamespace(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, namespaceSeq.Add(1))
}

// orphanCopy writes to member1 fleetgate's copy of a template ns/name that then goes from the
// host (no reconciler is running, so nothing else sees it), and returns the copy's UID.
func (e *testEnv) orphanCopy(t *testing.T, ns, name string, data map[string]string) types.UID {
	t.Helper()
	ctx := context.Background()
	e.createConfigMap(t, ns, name, data)
	tmpl, err := e.host.Resource(configMaps).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := e.members["member1"]
	if err := member.EnsureNamespace(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	cp, err := member.Apply(ctx, c, configMaps, member.Copy(tmpl), member.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.kube.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	return cp.GetUID()
}

// writeCopyOfNewTemplate creates template ns/name again (data k=new) and writes its copy to
// member1 over the one there (recreate: after deleting it); it returns the copy's UID. It runs
// inside the reconciler's requests, so it reports failures with Errorf.
func (e *testEnv) writeCopyOfNewTemplate(t *testing.T, ns, name string, recreate bool) types.UID {
	ctx := context.Background()
	tmpl, err := e.createTemplate(ns, name, "new")
	if err != nil {
		t.Errorf("create template again: %v", err)
		return ""
	}
	c := e.members["member1"]
	if recreate {
		if err := c.Resource(configMaps).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete listed copy: %v", err)
			return ""
		}
	}
	cp, err := member.Apply(ctx, c, configMaps, member.Copy(tmpl), member.ApplyOptions{})
	if err != nil {
		t.Errorf("write copy of the new template: %v", err)
		return ""
	}
	return cp.GetUID()
}

// createTemplate creates the ConfigMap ns/name with data k=value in the host.
func (e *testEnv) createTemplate(ns, name, value string) (*unstructured.Unstructured, error) {
	tmpl := &unstructured.Unstructured{}
	tmpl.SetAPIVersion("v1")
	tmpl.SetKind("ConfigMap")
	tmpl.SetName(name)
	tmpl.SetNamespace(ns)
	if err := unstructured.SetNestedStringMap(tmpl.Object, map[string]string{"k": value}, "data"); err != nil {
		return nil, err
	}
	return e.host.Resource(configMaps).Namespace(ns).Create(context.Background(), tmpl, metav1.CreateOptions{})
}

// waitFired waits until the interceptor has done its part.
func waitFired(t *testing.T, fired <-chan struct{}) {
	t.Helper()
	select {
	case <-fired:
	case <-time.After(waitLong):
		t.Fatalf("after %s: the reconciler's sweep never asked the host about the template", waitLong)
	}
}

// wantLiveCopy waits until member1's copy of ns/name is the live template's (data k=value, its
// template UID, bound and applied), and checks it is still the member object uid.
func (e *testEnv) wantLiveCopy(t *testing.T, ns, name, value string, uid types.UID) {
	t.Helper()
	eventually(t, waitLong, func() error {
		if err := e.hasCopy("member1", configMaps, ns, name, "k", value); err != nil {
			return err
		}
		tmpl, err := e.host.Resource(configMaps).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cp, err := e.memberObject("member1", configMaps, ns, name)
		if err != nil {
			return err
		}
		if got := cp.GetAnnotations()[member.AnnotationTemplateUID]; got != string(tmpl.GetUID()) {
			return fmt.Errorf("copy's template UID %s, want the live template's %s", got, tmpl.GetUID())
		}
		return e.fullyApplied(t, ns, name+"-configmap", "member1")
	})
	cp, err := e.memberObject("member1", configMaps, ns, name)
	switch {
	case err != nil:
		t.Fatal(err)
	case cp == nil:
		t.Fatal("member1 copy deleted")
	case cp.GetUID() != uid:
		t.Errorf("member1 copy has UID %s, want %s: the copy was deleted and written again", cp.GetUID(), uid)
	}
}

// isGet says whether r reads the ConfigMap ns/name.
func isGet(r *http.Request, ns, name string) bool {
	return r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/"+ns+"/configmaps/"+name
}

// memberSide handles the reconciler's requests to members: its watch of member1's ConfigMap
// copies waits until fired is closed (so the sweep is the first to see the copy, and the first to
// ask the host about its template, not the template's own pass that the watch would queue), and
// deletes are recorded.
func memberSide(fired <-chan struct{}, deletes *memberDeletes, ns, name string) memberInterceptor {
	return func(cluster string, r *http.Request, next http.RoundTripper) (*http.Response, error) {
		if cluster == "member1" && isCopyWatch(r) {
			select {
			case <-fired:
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
		}
		resp, err := next.RoundTrip(r)
		if err == nil && cluster == "member1" && r.Method == http.MethodDelete && r.URL.Path == "/api/v1/namespaces/"+ns+"/configmaps/"+name {
			deletes.record(resp)
		}
		return resp, err
	}
}

// isCopyWatch says whether r is the reconciler's watch of a member's ConfigMaps (the informer's
// list and watch carry watch or resourceVersion; the sweep's paged list has neither).
func isCopyWatch(r *http.Request) bool {
	q := r.URL.Query()
	return r.Method == http.MethodGet && r.URL.Path == "/api/v1/configmaps" && (q.Has("watch") || q.Has("resourceVersion"))
}

// memberDeletes records the deletes of one ConfigMap in member1 that succeeded.
type memberDeletes struct {
	mu   sync.Mutex
	done []string
}

func (d *memberDeletes) record(resp *http.Response) {
	if resp.StatusCode >= 300 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done = append(d.done, resp.Status)
}

func (d *memberDeletes) wantNone(t *testing.T) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.done) > 0 {
		t.Errorf("the reconciler deleted the copy in member1 (%v)", d.done)
	}
}

// interceptor handles one request of the reconciler, sending it on with next.
type interceptor func(r *http.Request, next http.RoundTripper) (*http.Response, error)

// memberInterceptor handles one request of the reconciler to a member.
type memberInterceptor func(cluster string, r *http.Request, next http.RoundTripper) (*http.Response, error)

type intercepting struct {
	next http.RoundTripper
	f    interceptor
}

func (i intercepting) RoundTrip(r *http.Request) (*http.Response, error) { return i.f(r, i.next) }

type interceptingGetter struct {
	access.Getter
	f memberInterceptor
}

func (g interceptingGetter) Config(ctx context.Context, cluster string) (*rest.Config, error) {
	cfg, err := g.Getter.Config(ctx, cluster)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = reconcile.DefaultMemberQPS, reconcile.DefaultMemberBurst
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return intercepting{next: rt, f: func(r *http.Request, next http.RoundTripper) (*http.Response, error) { return g.f(cluster, r, next) }}
	})
	return cfg, nil
}

// startInterceptedController is startController with the reconciler's requests to the host going
// through host, and to members through members.
func (e *testEnv) startInterceptedController(t *testing.T, host interceptor, members memberInterceptor) {
	t.Helper()
	hostCfg := rest.CopyConfig(e.env.Host.Config)
	hostCfg.QPS, hostCfg.Burst = 1000, 2000
	hostCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return intercepting{next: rt, f: host} })
	hostClient, err := dynamic.NewForConfig(hostCfg)
	if err != nil {
		t.Fatal(err)
	}
	c := reconcile.New(reconcile.Options{
		Host:    hostClient,
		Kube:    e.kube,
		Members: member.NewClients(interceptingGetter{Getter: access.NewHost(client.Clusters(e.host), e.kube), f: members}),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("reconciler: %v", err)
		}
	})
}
