package reconcile_test

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
)

// reportStatus writes a Deployment copy's status in a member as its deployment controller would:
// observed its current generation, replicas all ready, Available.
func (e *testEnv) reportStatus(t *testing.T, cluster, ns, name string, ready int64) {
	t.Helper()
	r := e.members[cluster].Resource(deployments).Namespace(ns)
	eventually(t, waitLong, func() error {
		u, err := r.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		replicas, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		available := "True"
		if ready < replicas {
			available = "False"
		}
		u.Object["status"] = map[string]any{
			"observedGeneration": u.GetGeneration(), "replicas": replicas, "updatedReplicas": replicas,
			"readyReplicas": ready, "availableReplicas": ready, "unavailableReplicas": replicas - ready,
			"conditions": []any{map[string]any{"type": "Available", "status": available, "reason": "Test"}},
		}
		_, err = r.UpdateStatus(context.Background(), u, metav1.UpdateOptions{})
		return err
	})
}

// propagateWeb propagates a one-replica Deployment "web" of ns to both members (Duplicated) and
// waits until both hold it.
func (e *testEnv) propagateWeb(t *testing.T, ns string) {
	t.Helper()
	pp := &policyv1alpha1.PropagationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}
	pp.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment"}}
	e.policy(t, pp)
	if _, err := e.kube.AppsV1().Deployments(ns).Create(context.Background(), deployment(ns, "web", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "web-deployment", "member1", "member2") })
}

// deployment is a Deployment of one nginx container with label app=name.
func deployment(ns, name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

// templateStatus reads the template Deployment's status.
func (e *testEnv) templateStatus(ns, name string) (*appsv1.Deployment, error) {
	return e.kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
}

// A Duplicated one-replica Deployment on two members shows 2/2 ready in the template, with the
// template's generation observed only once every member observed its copy; the binding records
// each cluster's status and health.
func TestDeploymentStatusIsAggregated(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "aggregate"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	e.propagateWeb(t, ns)
	e.reportStatus(t, "member1", ns, "web", 1)
	e.reportStatus(t, "member2", ns, "web", 1)
	// want checks the template's status; observed says its observedGeneration is its generation
	// (the Deployment strategy bumps generation on annotation changes too, so it is not 1).
	want := func(observed bool, ready int64, available string) func() error {
		return func() error {
			got, err := e.templateStatus(ns, "web")
			if err != nil {
				return err
			}
			s := got.Status
			cond := ""
			for _, c := range s.Conditions {
				if c.Type == appsv1.DeploymentAvailable {
					cond = string(c.Status)
				}
			}
			if (s.ObservedGeneration == got.Generation) != observed || int64(s.ReadyReplicas) != ready || cond != available {
				return fmt.Errorf("template status observedGeneration %d readyReplicas %d Available %q (generation %d), want observed=%v %d %q",
					s.ObservedGeneration, s.ReadyReplicas, cond, got.Generation, observed, ready, available)
			}
			return nil
		}
	}
	eventually(t, waitLong, want(true, 2, "True"))
	eventually(t, waitLong, func() error {
		b, err := e.binding(t, ns, "web-deployment")
		if err != nil {
			return err
		}
		for _, it := range b.Status.AggregatedStatus {
			if it.Health != workv1alpha2.ResourceHealthy || it.Status == nil {
				return fmt.Errorf("binding item %s: health %q status %v", it.ClusterName, it.Health, it.Status)
			}
		}
		return nil
	})

	// A new generation is observed only once both members observed their copies.
	cur, err := e.templateStatus(ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
	if _, err := e.kube.AppsV1().Deployments(ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() error { return e.hasImage("member1", ns, "web", "nginx:1.27") })
	eventually(t, waitLong, func() error { return e.hasImage("member2", ns, "web", "nginx:1.27") })
	e.reportStatus(t, "member1", ns, "web", 1)
	eventually(t, waitLong, func() error {
		got, err := e.templateStatus(ns, "web")
		if err != nil {
			return err
		}
		if got.Status.ObservedGeneration >= got.Generation {
			return fmt.Errorf("observedGeneration %d with member2 not yet observed (generation %d)", got.Status.ObservedGeneration, got.Generation)
		}
		if b, err := e.binding(t, ns, "web-deployment"); err != nil || len(b.Status.AggregatedStatus) != 2 ||
			b.Status.AggregatedStatus[0].Health != workv1alpha2.ResourceHealthy || b.Status.AggregatedStatus[1].Health != workv1alpha2.ResourceUnhealthy {
			return fmt.Errorf("binding health: %v %v", b, err)
		}
		return nil
	})
	e.reportStatus(t, "member2", ns, "web", 0)
	eventually(t, waitLong, want(true, 1, "False"))
}

// hasImage checks the image of a Deployment copy.
func (e *testEnv) hasImage(cluster, ns, name, image string) error {
	u, err := e.memberObject(cluster, deployments, ns, name)
	if err != nil || u == nil {
		return fmt.Errorf("%s: %s/%s: %v", cluster, ns, name, err)
	}
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	if len(cs) == 0 || cs[0].(map[string]any)["image"] != image {
		return fmt.Errorf("%s: %s/%s containers %v, want image %s", cluster, ns, name, cs, image)
	}
	return nil
}

// A member that goes NotReady drops its share of the aggregated status (the binding says its
// health is Unknown); it comes back with the member.
func TestNotReadyMemberDropsItsShare(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "share"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	e.propagateWeb(t, ns)
	e.reportStatus(t, "member1", ns, "web", 1)
	e.reportStatus(t, "member2", ns, "web", 1)
	ready := func(n int32, member2 workv1alpha2.ResourceHealth) func() error {
		return func() error {
			got, err := e.templateStatus(ns, "web")
			if err != nil {
				return err
			}
			if got.Status.ReadyReplicas != n {
				return fmt.Errorf("template readyReplicas %d, want %d", got.Status.ReadyReplicas, n)
			}
			b, err := e.binding(t, ns, "web-deployment")
			if err != nil {
				return err
			}
			for _, it := range b.Status.AggregatedStatus {
				if it.ClusterName == "member2" && it.Health != member2 {
					return fmt.Errorf("member2 health %q, want %q", it.Health, member2)
				}
			}
			return nil
		}
	}
	eventually(t, waitLong, ready(2, workv1alpha2.ResourceHealthy))
	start := e.stopMember(t, "member2")
	if err := e.waitReady(ctx, "member2", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, ready(1, workv1alpha2.ResourceUnknown))
	start()
	eventually(t, waitLong, ready(2, workv1alpha2.ResourceHealthy))
}
