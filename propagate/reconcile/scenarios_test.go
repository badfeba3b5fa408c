package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/member"
)

// Cluster-scoped templates get a ClusterResourceBinding.
func TestClusterScopedTemplate(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	ctx := context.Background()
	cpp := &policyv1alpha1.ClusterPropagationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "roles"}}
	cpp.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "fg:reader"}}
	u := toUnstructured(t, cpp, policyv1alpha1.GroupVersion.WithKind("ClusterPropagationPolicy"))
	if _, err := e.host.Resource(policyv1alpha1.GroupVersion.WithResource("clusterpropagationpolicies")).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "fg:reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}}
	if _, err := e.kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	roles := rbacv1.SchemeGroupVersion.WithResource("clusterroles")
	crbs := workv1alpha2.GroupVersion.WithResource("clusterresourcebindings")
	eventually(t, waitLong, func() error {
		for _, m := range []string{"member1", "member2"} {
			if err := e.hasCopy(m, roles, "", "fg:reader", "", ""); err != nil {
				return err
			}
		}
		b, err := e.host.Resource(crbs).Get(ctx, "fg.reader-clusterrole", metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(b.Object, "status", "conditions")
		if !strings.Contains(fmt.Sprint(conds), "FullyApplied") || !strings.Contains(fmt.Sprint(conds), "FullyAppliedSuccess") {
			return fmt.Errorf("ClusterResourceBinding not FullyApplied: %v", conds)
		}
		return nil
	})
	if err := e.kube.RbacV1().ClusterRoles().Delete(ctx, "fg:reader", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() error {
		for _, m := range []string{"member1", "member2"} {
			if err := e.noCopy(m, roles, "", "fg:reader"); err != nil {
				return err
			}
		}
		return nil
	})
}

// A placement that no cluster satisfies is reported on the binding and the template; a kind the
// host does not serve is reported on the policy; overrides are recorded per cluster.
func TestReports(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "reports"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	pp := configMapPolicy(ns, "nowhere")
	pp.Spec.ResourceSelectors = append(pp.Spec.ResourceSelectors, policyv1alpha1.ResourceSelector{APIVersion: "example.com/v1", Kind: "Widget"})
	e.policy(t, pp)
	e.createConfigMap(t, ns, "lonely", map[string]string{"k": "v"})
	eventually(t, waitLong, func() error {
		b, err := e.binding(t, ns, "lonely-configmap")
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(b.Status.Conditions, workv1alpha2.Scheduled)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != workv1alpha2.BindingReasonNoClusterFit {
			return fmt.Errorf("Scheduled condition %+v", c)
		}
		evs := strings.Join(e.events(t, ns, "lonely"), "\n")
		if !strings.Contains(evs, "Warning ScheduleFailed") {
			return fmt.Errorf("events %q lack ScheduleFailed", evs)
		}
		if evs := strings.Join(e.events(t, ns, "cms"), "\n"); !strings.Contains(evs, "Warning KindNotServed Widget.example.com is not served") {
			return fmt.Errorf("policy events %q lack KindNotServed", evs)
		}
		return nil
	})

	op := &policyv1alpha1.OverridePolicy{ObjectMeta: metav1.ObjectMeta{Name: "label-m1", Namespace: ns}}
	op.Spec.OverrideRules = []policyv1alpha1.RuleWithCluster{{
		TargetCluster: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member1"}},
		Overriders:    policyv1alpha1.Overriders{LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: "add", Value: map[string]string{"where": "one"}}}},
	}}
	u := toUnstructured(t, op, policyv1alpha1.GroupVersion.WithKind("OverridePolicy"))
	if _, err := e.host.Resource(policyv1alpha1.GroupVersion.WithResource("overridepolicies")).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.policy(t, configMapPolicy(ns))
	eventually(t, waitLong, func() error {
		if err := e.fullyApplied(t, ns, "lonely-configmap", "member1", "member2"); err != nil {
			return err
		}
		m1, err := e.memberObject("member1", configMaps, ns, "lonely")
		if err != nil || m1 == nil || m1.GetLabels()["where"] != "one" {
			return fmt.Errorf("member1 copy not overridden: %v %v", m1, err)
		}
		b, err := e.binding(t, ns, "lonely-configmap")
		if err != nil {
			return err
		}
		if got := b.Annotations[policyv1alpha1.AppliedOverrides]; !strings.HasPrefix(got, `{"member1":[{"policyName":"label-m1"`) {
			return fmt.Errorf("applied-overrides annotation %q", got)
		}
		return nil
	})
}

// suspension.dispatching stops updates to members; preserveResourcesOnDeletion keeps the copies
// (no longer managed) when the template is deleted.
func TestSuspensionAndPreserve(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "suspend"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	pp := configMapPolicy(ns)
	pp.Spec.PreserveResourcesOnDeletion = ptr.To(true)
	e.policy(t, pp)
	e.createConfigMap(t, ns, "kept", map[string]string{"k": "v1"})
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "kept-configmap", "member1", "member2") })

	pp.Spec.Suspension = &policyv1alpha1.Suspension{DispatchingOnClusters: &policyv1alpha1.SuspendClusters{ClusterNames: []string{"member2"}}}
	e.policy(t, pp)
	eventually(t, waitLong, func() error {
		b, err := e.binding(t, ns, "kept-configmap")
		if err != nil {
			return err
		}
		if b.Spec.Suspension == nil {
			return fmt.Errorf("binding has no suspension yet")
		}
		return nil
	})
	if _, err := e.kube.CoreV1().ConfigMaps(ns).Patch(ctx, "kept", types.MergePatchType, []byte(`{"data":{"k":"v2"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() error {
		if err := e.hasCopy("member1", configMaps, ns, "kept", "k", "v2"); err != nil {
			return err
		}
		b, err := e.binding(t, ns, "kept-configmap")
		if err != nil {
			return err
		}
		for _, it := range b.Status.AggregatedStatus {
			if it.ClusterName == "member2" && !it.Applied && strings.Contains(it.AppliedMessage, "suspended") {
				return nil
			}
		}
		return fmt.Errorf("member2 not reported suspended: %+v", b.Status.AggregatedStatus)
	})
	if err := e.hasCopy("member2", configMaps, ns, "kept", "k", "v1"); err != nil {
		t.Errorf("suspended member2 was updated: %v", err)
	}

	if err := e.kube.CoreV1().ConfigMaps(ns).Delete(ctx, "kept", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() error {
		if _, err := e.kube.CoreV1().ConfigMaps(ns).Get(ctx, "kept", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("template still there (%v)", err)
		}
		for _, m := range []string{"member1", "member2"} {
			u, err := e.memberObject(m, configMaps, ns, "kept")
			if err != nil || u == nil {
				return fmt.Errorf("%s: preserved copy gone (%v)", m, err)
			}
			if member.IsManaged(u) {
				return fmt.Errorf("%s: preserved copy still managed", m)
			}
		}
		return nil
	})
}
