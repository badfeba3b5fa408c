package reconcile_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/cache"
	"github.com/fleetgate/fleetgate/propagate/reconcile"
)

// A copy edited in a member is restored, and one deleted there is written again, without any change
// to the template; a label another manager added to the copy is not drift and stays.
func TestDriftIsCorrected(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "drift"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns))
	e.createConfigMap(t, ns, "edited", map[string]string{"k": "v"})
	e.createConfigMap(t, ns, "deleted", map[string]string{"k": "v"})
	for _, name := range []string{"edited", "deleted"} {
		eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, name+"-configmap", "member1", "member2") })
	}
	m1 := e.members["member1"].Resource(configMaps).Namespace(ns)
	patch := []byte(`{"metadata":{"labels":{"added-in-member":"yes"}},"data":{"k":"edited by hand"}}`)
	if _, err := m1.Patch(ctx, "edited", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	if err := e.members["member2"].Resource(configMaps).Namespace(ns).Delete(ctx, "deleted", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() error {
		if err := e.hasCopy("member1", configMaps, ns, "edited", "k", "v"); err != nil {
			return err
		}
		return e.hasCopy("member2", configMaps, ns, "deleted", "k", "v")
	})
	u, err := e.memberObject("member1", configMaps, ns, "edited")
	if err != nil {
		t.Fatal(err)
	}
	if u.GetLabels()["added-in-member"] != "yes" {
		t.Errorf("a label set by another manager was removed: %v", u.GetLabels())
	}
}

// A kind selected through two versions (autoscaling/v1 by one policy, autoscaling/v2 by another)
// is one template: it is claimed once and then left alone, not claimed and released in a loop.
func TestOneKindTwoVersions(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "versions"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	v1 := &policyv1alpha1.PropagationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "hpa-v1", Namespace: ns}}
	v1.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "autoscaling/v1", Kind: "HorizontalPodAutoscaler"}}
	v2 := &policyv1alpha1.PropagationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "hpa-v2", Namespace: ns}}
	v2.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{
		{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"}, {APIVersion: "v1", Kind: "ConfigMap"}}
	e.policy(t, v1)
	e.policy(t, v2)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 3,
		},
	}
	hpas := e.kube.AutoscalingV2().HorizontalPodAutoscalers(ns)
	if _, err := hpas.Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "web-horizontalpodautoscaler", "member1", "member2") })
	before, err := hpas.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A positive signal that the reconciler has worked since: a marker propagated after it.
	writes := e.hostWrites.Load()
	e.createConfigMap(t, ns, "marker", map[string]string{"k": "v"})
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "marker-configmap", "member1", "member2") })
	after, err := hpas.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("the HPA template was written again (resourceVersion %s → %s; claim %v → %v)", before.ResourceVersion,
			after.ResourceVersion, before.Annotations, after.Annotations)
	}
	if n := e.hostWrites.Load() - writes; n > 10 {
		t.Errorf("%d host writes while one marker ConfigMap propagated", n)
	}
}

// Keys that never need a second look are not queued again on a timer: a policy's key (the
// write pipeline used to hand every committed policy to the reconciler, which requeued it
// every second forever). Queue delays run on a fake clock, stepped far ahead before a marker key
// goes through the same queue.
func TestNoTimerRequeues(t *testing.T) {
	e := sharedEnv(t)
	clk := clocktesting.NewFakeClock(time.Now())
	var (
		mu   sync.Mutex
		seen = map[reconcile.Key]int{}
	)
	count := func(k reconcile.Key) int { mu.Lock(); defer mu.Unlock(); return seen[k] }
	c, _ := e.startControllerWith(t, func(o *reconcile.Options) { o.QueueClock = clk }, func(c *reconcile.Controller) {
		reconcile.SetOnSync(c, func(k reconcile.Key) { mu.Lock(); seen[k]++; mu.Unlock() })
	})
	const ns = "requeue"
	e.namespace(t, ns, nil)
	policy := reconcile.Key{Kind: schema.GroupKind{Group: policyv1alpha1.GroupName, Kind: "PropagationPolicy"}, Namespace: ns, Name: "cms"}
	e.policy(t, configMapPolicy(ns))
	c.Enqueue(policy)
	eventually(t, waitLong, func() error {
		if count(policy) == 0 {
			return fmt.Errorf("policy key not taken up yet")
		}
		return nil
	})
	first := count(policy)
	for range 3 {
		clk.Step(2 * time.Minute)
		marker := reconcile.Key{Kind: schema.GroupKind{Kind: "ConfigMap"}, Namespace: ns, Name: fmt.Sprintf("marker-%d", clk.Now().Unix())}
		c.Enqueue(marker)
		eventually(t, waitLong, func() error {
			if count(marker) == 0 {
				return fmt.Errorf("marker not taken up yet")
			}
			return nil
		})
	}
	if got := count(policy); got != first {
		t.Errorf("policy key taken up %d times after the clock moved on (was %d): it requeues itself", got, first)
	}
}

// Handoff returns once every Ready target holds the template's copy of that version: the
// write pipeline's "when the write returns, the members have it". The pipeline hands off only
// what a policy in the shared cache claimed, so the test waits for the cache to hold the policy
// first (otherwise the first pass rightly finds nothing to place and Handoff returns at once).
func TestDispatchWaitsForMembers(t *testing.T) {
	e := sharedEnv(t)
	shared := cache.New(e.host)
	c, _ := e.startControllerWith(t, func(o *reconcile.Options) { o.Cache = shared }, nil)
	const ns = "dispatch"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns))
	eventually(t, waitLong, func() error {
		if len(shared.PropagationPolicies(ns)) == 0 {
			return fmt.Errorf("the reconciler's cache does not hold policy %s/cms yet", ns)
		}
		return nil
	})
	cms := e.kube.CoreV1().ConfigMaps(ns)
	for i := range 5 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Data: map[string]string{"v": fmt.Sprint(i)}}
		var (
			out *corev1.ConfigMap
			err error
		)
		if i == 0 {
			out, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		} else {
			cur, gerr := cms.Get(ctx, "web", metav1.GetOptions{})
			if gerr != nil {
				t.Fatal(gerr)
			}
			cur.Data = cm.Data
			out, err = cms.Update(ctx, cur, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err = c.Handoff(dctx, reconcile.Key{Kind: schema.GroupKind{Kind: "ConfigMap"}, Namespace: ns, Name: "web"}, toUnstructured(t, out, schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}), nil)
		cancel()
		if err != nil {
			t.Fatalf("dispatch of version %d: %v", i, err)
		}
		for _, m := range []string{"member1", "member2"} {
			if err := e.hasCopy(m, configMaps, ns, "web", "v", fmt.Sprint(i)); err != nil {
				t.Errorf("when Handoff returned: %v", err)
			}
		}
	}
}

// spec.replicas scaled in a member is drift, unless the template leaves it to the member (label
// resourcetemplate.karmada.io/retain-replicas=true, as for a member HPA): then it stays.
func TestMemberOwnedReplicasAreNotDrift(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "replicas"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	pp := configMapPolicy(ns, "member1")
	pp.Spec.ResourceSelectors = append(pp.Spec.ResourceSelectors, policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment"})
	e.policy(t, pp)
	for _, name := range []string{"retained", "restored"} {
		d := deployment(ns, name, 2)
		if name == "retained" {
			d.Labels = map[string]string{reconcile.RetainReplicasLabel: "true"}
		}
		if _, err := e.kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, name+"-deployment", "member1") })
		scale := []byte(`{"spec":{"replicas":5}}`)
		if _, err := e.members["member1"].Resource(deployments).Namespace(ns).Patch(ctx, name, types.MergePatchType, scale,
			metav1.PatchOptions{FieldManager: "kube-controller-manager"}, "scale"); err != nil {
			t.Fatal(err)
		}
	}
	replicas := func(name string) (int64, error) {
		u, err := e.memberObject("member1", deployments, ns, name)
		if err != nil || u == nil {
			return 0, fmt.Errorf("member1 %s: %v", name, err)
		}
		n, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		return n, nil
	}
	eventually(t, waitLong, func() error {
		if n, err := replicas("restored"); err != nil || n != 2 {
			return fmt.Errorf("restored has %d replicas in member1 (%v), want 2", n, err)
		}
		return nil
	})
	// The reconciler has looked at both (it restored one, and the other's event came first).
	if n, err := replicas("retained"); err != nil || n != 5 {
		t.Errorf("retained has %d replicas in member1 (%v), want the member's 5", n, err)
	}
}

var deployments = appsv1.SchemeGroupVersion.WithResource("deployments")
