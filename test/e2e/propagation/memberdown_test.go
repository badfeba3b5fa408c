package propagation

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// podInformer is a client-go informer on the pods of a namespace through the gateway, counting the
// adds and deletes of every key.
type podInformer struct {
	store cache.Store
	mu    sync.Mutex
	adds  map[string]int
	dels  map[string]int
}

func startPodInformer(t *testing.T, ns, selector string) *podInformer {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", gw())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	inf := f.Core().V1().Pods().Informer()
	p := &podInformer{store: inf.GetStore(), adds: map[string]int{}, dels: map[string]int{}}
	key := func(obj any) string {
		k, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		return k
	}
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.mu.Lock(); p.adds[key(obj)]++; p.mu.Unlock() },
		DeleteFunc: func(obj any) { p.mu.Lock(); p.dels[key(obj)]++; p.mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("pod informer through the gateway did not sync")
	}
	return p
}

// names returns the names in the informer's store, sorted, each with its cluster annotation.
func (p *podInformer) names() []string {
	var out []string
	for _, o := range p.store.List() {
		pod := o.(*corev1.Pod)
		out = append(out, pod.Annotations["fleetgate.io/cluster"]+"/"+pod.Name)
	}
	slices.Sort(out)
	return out
}

// waitFor waits until the store holds exactly want (cluster/name, sorted) and no key was added
// twice without a delete in between.
func (p *podInformer) waitFor(t *testing.T, want ...string) {
	t.Helper()
	slices.Sort(want)
	eventually(t, time.Minute, func() error {
		if got := p.names(); !slices.Equal(got, want) {
			return fmt.Errorf("informer through the gateway holds %v, want %v", got, want)
		}
		return nil
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, n := range p.adds {
		if n > p.dels[k]+1 {
			t.Errorf("informer saw %s added %d times, deleted %d times", k, n, p.dels[k])
		}
	}
}

func clusterReady(t *testing.T, name string) string {
	return framework.Kubectl(t, gw(), "get", "cluster", name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
}

// TestMemberDownAndBack: member2's apiserver stops. Merged lists answer with member1's pods and a
// Warning naming member2, the Deployment's aggregated status drops member2's share, and an informer
// on pods through the gateway keeps following member1. member2 comes back: the informer sees its
// changes, with no key lost or added twice, and the share returns.
func TestMemberDownAndBack(t *testing.T) {
	ns := namespace(t, "views-down")
	framework.Apply(t, gw(), pp(ns, "both", "web", "clusterAffinity: {clusterNames: [member1, member2]}"))
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "web", "--image", "nginx")
	set := map[string]string{"set": "down"}
	for _, n := range []string{"m1-a", "m1-b"} {
		framework.Apply(t, memberKC("member1"), podManifest(ns, n, set))
	}
	for _, n := range []string{"m2-a", "m2-b"} {
		framework.Apply(t, memberKC("member2"), podManifest(ns, n, set))
	}
	deployShows := func(re string) {
		t.Helper()
		eventually(t, time.Minute, func() error {
			out := framework.Kubectl(t, gw(), "-n", ns, "get", "deploy", "web", "--no-headers")
			if !regexp.MustCompile(re).MatchString(out) {
				return fmt.Errorf("kubectl get deploy web: %q, want %s", out, re)
			}
			return nil
		})
	}
	deployShows(`^web\s+2/1\s+2\s+2\s`)
	inf := startPodInformer(t, ns, "set=down")
	inf.waitFor(t, "member1/m1-a", "member1/m1-b", "member2/m2-a", "member2/m2-b")

	m2 := framework.Env.Member("member2")
	if err := m2.StopAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted := false
	start := func() {
		restarted = true
		startMemberAgain(t, "member2")
	}
	t.Cleanup(func() {
		if !restarted {
			start()
		}
	})
	eventually(t, time.Minute, func() error {
		if s := clusterReady(t, "member2"); s != "False" {
			return fmt.Errorf("member2 Ready=%q", s)
		}
		return nil
	})
	r := framework.KubectlResult(t, gw(), "-n", ns, "get", "pods", "-l", "set=down", "-o", "name")
	if r.Err != nil || strings.Fields(r.Stdout) == nil || strings.Join(strings.Fields(r.Stdout), " ") != "pod/m1-a pod/m1-b" {
		t.Errorf("get pods with member2 down: %v\nstdout %s\nstderr %s", r.Err, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "Warning: cluster member2 is not ready") {
		t.Errorf("get pods with member2 down printed no warning naming it: %q", r.Stderr)
	}
	deployShows(`^web\s+1/1\s+1\s+1\s`)
	framework.Apply(t, memberKC("member1"), podManifest(ns, "m1-c", set))
	inf.waitFor(t, "member1/m1-a", "member1/m1-b", "member1/m1-c", "member2/m2-a", "member2/m2-b")

	start()
	framework.Apply(t, memberKC("member2"), podManifest(ns, "m2-c", set))
	framework.Kubectl(t, memberKC("member2"), "-n", ns, "delete", "pod", "m2-a", "--grace-period=0", "--force")
	inf.waitFor(t, "member1/m1-a", "member1/m1-b", "member1/m1-c", "member2/m2-b", "member2/m2-c")
	deployShows(`^web\s+2/1\s+2\s+2\s`)
}
