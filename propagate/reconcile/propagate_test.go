package reconcile_test

import (
	"context"
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/propagate/names"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/member"
	"github.com/fleetgate/fleetgate/propagate/reconcile"
)

const waitLong = 30 * time.Second

// A template written straight to the host (no gateway) is propagated to every cluster, claimed,
// finalized, bound and reported; an update follows it.
func TestTemplateWrittenToHostIsPropagated(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "direct"
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns))
	e.createConfigMap(t, ns, "cm1", map[string]string{"k": "v1"})

	eventually(t, waitLong, func() error {
		for _, m := range []string{"member1", "member2"} {
			if err := e.hasCopy(m, configMaps, ns, "cm1", "k", "v1"); err != nil {
				return err
			}
		}
		return e.fullyApplied(t, ns, "cm1-configmap", "member1", "member2")
	})
	tmpl, err := e.kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "cm1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tmpl.Finalizers, names.Finalizer) {
		t.Errorf("template finalizers %v, want %s", tmpl.Finalizers, names.Finalizer)
	}
	if got := tmpl.Annotations[policyv1alpha1.PropagationPolicyNameAnnotation]; got != "cms" {
		t.Errorf("claim annotation = %q, want cms", got)
	}
	b, err := e.binding(t, ns, "cm1-configmap")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.OwnerReferences) != 1 || b.OwnerReferences[0].UID != tmpl.UID {
		t.Errorf("binding owners %+v, want the template", b.OwnerReferences)
	}
	if b.Spec.Resource.UID != tmpl.UID || b.Spec.Resource.Kind != "ConfigMap" {
		t.Errorf("binding resource %+v", b.Spec.Resource)
	}
	if len(b.Status.AggregatedStatus) != 2 || !b.Status.AggregatedStatus[0].Applied || !b.Status.AggregatedStatus[1].Applied {
		t.Errorf("aggregatedStatus %+v", b.Status.AggregatedStatus)
	}
	if b.Annotations[reconcile.AnnotationAppliedHashes] == "" {
		t.Errorf("binding has no %s", reconcile.AnnotationAppliedHashes)
	}
	eventually(t, waitLong, func() error {
		evs := strings.Join(e.events(t, ns, "cm1"), "\n")
		for _, want := range []string{"Normal ApplySucceeded Applied to clusters member1, member2"} {
			if !strings.Contains(evs, want) {
				return fmt.Errorf("events %q lack %q", evs, want)
			}
		}
		return nil
	})

	// An update reaches the members, and the binding records the template's resourceVersion.
	patch := []byte(`{"data":{"k":"v2"}}`)
	if _, err := e.kube.CoreV1().ConfigMaps(ns).Patch(context.Background(), "cm1", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() error {
		for _, m := range []string{"member1", "member2"} {
			if err := e.hasCopy(m, configMaps, ns, "cm1", "k", "v2"); err != nil {
				return err
			}
		}
		return nil
	})
}

// Editing the policy's placement removes the copy from the cluster that is no longer placed.
func TestPolicyEditMovesCopies(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "edit"
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns, "member1", "member2"))
	e.createConfigMap(t, ns, "moving", map[string]string{"k": "v"})
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "moving-configmap", "member1", "member2") })

	e.policy(t, configMapPolicy(ns, "member1"))
	eventually(t, waitLong, func() error {
		if err := e.noCopy("member2", configMaps, ns, "moving"); err != nil {
			return err
		}
		if err := e.hasCopy("member1", configMaps, ns, "moving", "k", "v"); err != nil {
			return err
		}
		return e.fullyApplied(t, ns, "moving-configmap", "member1")
	})
	eventually(t, waitLong, func() error {
		if evs := strings.Join(e.events(t, ns, "moving"), "\n"); !strings.Contains(evs, "Normal DeleteSucceeded Deleted from cluster member2") {
			return fmt.Errorf("events %q lack the deletion from member2", evs)
		}
		return nil
	})

	e.policy(t, configMapPolicy(ns, "member1", "member2"))
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "moving-configmap", "member1", "member2") })
}

// Abort leaves an unmanaged member object alone and reports it; Overwrite takes it over.
func TestConflictResolution(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "conflict"
	ctx := context.Background()
	member1 := e.env.Member("member1")
	_ = member1
	// The member already has namespace and object, created by someone else.
	nsObj := toUnstructured(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, corev1.SchemeGroupVersion.WithKind("Namespace"))
	if _, err := e.members["member1"].Resource(namespaces).Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	theirs := toUnstructured(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: ns}, Data: map[string]string{"k": "theirs"}},
		corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	if _, err := e.members["member1"].Resource(configMaps).Namespace(ns).Create(ctx, theirs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns))
	e.createConfigMap(t, ns, "taken", map[string]string{"k": "ours"})

	eventually(t, waitLong, func() error {
		if err := e.hasCopy("member2", configMaps, ns, "taken", "k", "ours"); err != nil {
			return err
		}
		return e.reportsUnmanaged(t, ns, "taken-configmap", "member1")
	})
	u, err := e.memberObject("member1", configMaps, ns, "taken")
	if err != nil || u == nil {
		t.Fatalf("member1 object: %v %v", u, err)
	}
	if member.IsManaged(u) || u.Object["data"].(map[string]any)["k"] != "theirs" {
		t.Errorf("Abort changed the member's object: %v", u.Object)
	}
	eventually(t, waitLong, func() error {
		evs := strings.Join(e.events(t, ns, "taken"), "\n")
		if !strings.Contains(evs, "Warning ApplyFailed Failed to apply to cluster member1: ") {
			return fmt.Errorf("events %q lack the conflict in member1", evs)
		}
		return nil
	})

	pp := configMapPolicy(ns)
	pp.Spec.ConflictResolution = policyv1alpha1.ConflictOverwrite
	e.policy(t, pp)
	eventually(t, waitLong, func() error {
		if err := e.hasCopy("member1", configMaps, ns, "taken", "k", "ours"); err != nil {
			return err
		}
		return e.fullyApplied(t, ns, "taken-configmap", "member1", "member2")
	})
}

// After a sweep has listed a kind in a member, a cold copy of a name the listing did not show is
// one request (an apply, no read first). An object that someone creates in the member after the
// listing, in the way of a copy under Abort, is still not taken over: the apply does not force, so
// it conflicts, and the reconciler reads and reports the conflict as without the listing.
func TestColdCopyAfterASweepIsOneRequest(t *testing.T) {
	e := sharedEnv(t)
	const ns = "cold-after-sweep"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns, "member1"))
	// A copy whose template is gone: the sweep deletes it, the positive sign that it listed.
	orphan := toUnstructured(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns,
		Labels:      map[string]string{member.LabelManaged: "true"},
		Annotations: map[string]string{member.AnnotationTemplate: "v1/ConfigMap/" + ns + "/orphan", member.AnnotationTemplateUID: "gone"}}},
		corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	nsObj := toUnstructured(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, corev1.SchemeGroupVersion.WithKind("Namespace"))
	if _, err := e.members["member1"].Resource(namespaces).Create(ctx, nsObj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := e.members["member1"].Resource(configMaps).Namespace(ns).Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.startController(t)
	eventually(t, waitLong, func() error { return e.noCopy("member1", configMaps, ns, "orphan") })

	theirs := toUnstructured(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: ns}, Data: map[string]string{"k": "theirs"}},
		corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	if _, err := e.members["member1"].Resource(configMaps).Namespace(ns).Create(ctx, theirs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	reads0, writes0 := int64(len(e.memberReads.since(0))), int64(len(e.memberLog.since(0)))
	e.createConfigMap(t, ns, "taken", map[string]string{"k": "ours"})
	e.createConfigMap(t, ns, "fresh", map[string]string{"k": "ours"})
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "fresh-configmap", "member1") })
	eventually(t, waitLong, func() error { return e.reportsUnmanaged(t, ns, "taken-configmap", "member1") })
	u, err := e.memberObject("member1", configMaps, ns, "taken")
	if err != nil || u == nil {
		t.Fatalf("member1 object: %v %v", u, err)
	}
	if member.IsManaged(u) || u.Object["data"].(map[string]any)["k"] != "theirs" {
		t.Errorf("the object created after the listing was changed: %v", u.Object)
	}
	fresh := "/namespaces/" + ns + "/configmaps/fresh"
	var reads, writes []string
	for _, l := range e.memberReads.since(reads0) {
		if strings.HasSuffix(l, fresh) {
			reads = append(reads, l)
		}
	}
	for _, l := range e.memberLog.since(writes0) {
		if strings.HasSuffix(l, fresh) {
			writes = append(writes, l)
		}
	}
	if len(reads) != 0 || len(writes) != 1 {
		t.Errorf("cold copy of fresh: reads %q, writes %q; want no read and one write", reads, writes)
	}
}
