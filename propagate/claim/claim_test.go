package claim

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func deployment(ns, name string, lbls map[string]string, claim Ref) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("Deployment")
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(lbls)
	Set(u, claim)
	return u
}

type policyOpt func(*policyv1alpha1.PropagationSpec, *metav1.ObjectMeta)

func priority(p int32) policyOpt {
	return func(s *policyv1alpha1.PropagationSpec, _ *metav1.ObjectMeta) { s.Priority = ptr.To(p) }
}

func preemptAlways(s *policyv1alpha1.PropagationSpec, _ *metav1.ObjectMeta) {
	s.Preemption = policyv1alpha1.PreemptAlways
}

func deleting(_ *policyv1alpha1.PropagationSpec, m *metav1.ObjectMeta) {
	m.DeletionTimestamp = &metav1.Time{}
}

func byName(name string) policyv1alpha1.ResourceSelector {
	return policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: name}
}

func byLabel(k, v string) policyv1alpha1.ResourceSelector {
	return policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment",
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}}
}

func all() policyv1alpha1.ResourceSelector {
	return policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment"}
}

func selectors(rs ...policyv1alpha1.ResourceSelector) policyOpt {
	return func(s *policyv1alpha1.PropagationSpec, _ *metav1.ObjectMeta) { s.ResourceSelectors = rs }
}

func pp(ns, name string, opts ...policyOpt) *policyv1alpha1.PropagationPolicy {
	p := &policyv1alpha1.PropagationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	p.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{all()}
	for _, o := range opts {
		o(&p.Spec, &p.ObjectMeta)
	}
	return p
}

func cpp(name string, opts ...policyOpt) *policyv1alpha1.ClusterPropagationPolicy {
	p := &policyv1alpha1.ClusterPropagationPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}}
	p.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{all()}
	for _, o := range opts {
		o(&p.Spec, &p.ObjectMeta)
	}
	return p
}

func ppRef(name string) Ref  { return Ref{Namespace: "default", Name: name} }
func cppRef(name string) Ref { return Ref{Cluster: true, Name: name} }

func TestResolve(t *testing.T) {
	app := map[string]string{"app": "nginx"}
	tests := []struct {
		name    string
		obj     *unstructured.Unstructured
		pps     []*policyv1alpha1.PropagationPolicy
		cpps    []*policyv1alpha1.ClusterPropagationPolicy
		want    Ref
		reason  Reason
		changed bool
	}{
		{name: "no policy", obj: deployment("default", "nginx", nil, Ref{}), reason: Unclaimed},
		{
			name: "a matching PropagationPolicy claims", obj: deployment("default", "nginx", nil, Ref{}),
			pps: []*policyv1alpha1.PropagationPolicy{pp("default", "p")}, want: ppRef("p"), reason: Claimed, changed: true,
		},
		{
			name: "a matching ClusterPropagationPolicy claims", obj: deployment("default", "nginx", nil, Ref{}),
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("c")}, want: cppRef("c"), reason: Claimed, changed: true,
		},
		{
			name: "PropagationPolicy beats a higher-priority, more specific ClusterPropagationPolicy",
			obj:  deployment("default", "nginx", nil, Ref{}),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "z")},
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("a", priority(100), selectors(byName("nginx")))},
			want: ppRef("z"), reason: Claimed, changed: true,
		},
		{
			name: "higher priority wins over specificity",
			obj:  deployment("default", "nginx", nil, Ref{}),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a", selectors(byName("nginx"))), pp("default", "b", priority(1))},
			want: ppRef("b"), reason: Claimed, changed: true,
		},
		{
			name: "negative priority loses to the default 0",
			obj:  deployment("default", "nginx", nil, Ref{}),
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("a", priority(-1)), cpp("b")},
			want: cppRef("b"), reason: Claimed, changed: true,
		},
		{
			name: "name match beats labelSelector match",
			obj:  deployment("default", "nginx", app, Ref{}),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a", selectors(byLabel("app", "nginx"))), pp("default", "b", selectors(byName("nginx")))},
			want: ppRef("b"), reason: Claimed, changed: true,
		},
		{
			name: "labelSelector match beats match-all",
			obj:  deployment("default", "nginx", app, Ref{}),
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("a"), cpp("b", selectors(byLabel("app", "nginx")))},
			want: cppRef("b"), reason: Claimed, changed: true,
		},
		{
			name: "a policy counts by its best matching selector",
			obj:  deployment("default", "nginx", app, Ref{}),
			pps: []*policyv1alpha1.PropagationPolicy{
				pp("default", "a", selectors(byLabel("app", "nginx"))),
				pp("default", "b", selectors(all(), byName("other"), byName("nginx"))),
			},
			want: ppRef("b"), reason: Claimed, changed: true,
		},
		{
			name: "a selector that does not match does not count",
			obj:  deployment("default", "nginx", app, Ref{}),
			pps: []*policyv1alpha1.PropagationPolicy{
				pp("default", "a", selectors(byLabel("app", "nginx"))),
				pp("default", "b", selectors(all(), byName("other"))),
			},
			want: ppRef("a"), reason: Claimed, changed: true,
		},
		{
			name: "alphabetically smaller name breaks the tie",
			obj:  deployment("default", "nginx", nil, Ref{}),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "b"), pp("default", "a")},
			want: ppRef("a"), reason: Claimed, changed: true,
		},
		{
			name: "a policy being deleted never claims",
			obj:  deployment("default", "nginx", nil, Ref{}),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a", deleting, priority(9)), pp("default", "b")},
			want: ppRef("b"), reason: Claimed, changed: true,
		},
		{
			name:   "a PropagationPolicy of another namespace is ignored",
			obj:    deployment("default", "nginx", nil, Ref{}),
			pps:    []*policyv1alpha1.PropagationPolicy{pp("other", "a")},
			reason: Unclaimed,
		},
		{
			name:   "selector namespace of a ClusterPropagationPolicy must match",
			obj:    deployment("default", "nginx", nil, Ref{}),
			cpps:   []*policyv1alpha1.ClusterPropagationPolicy{cpp("a", selectors(policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "other"}))},
			reason: Unclaimed,
		},
		{
			name: "the version is not compared: group and kind are",
			obj:  deployment("default", "nginx", nil, Ref{}),
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("a", selectors(policyv1alpha1.ResourceSelector{APIVersion: "apps/v1beta1", Kind: "Deployment"}))},
			want: cppRef("a"), reason: Claimed, changed: true,
		},
		{
			name:   "another group does not select",
			obj:    deployment("default", "nginx", nil, Ref{}),
			cpps:   []*policyv1alpha1.ClusterPropagationPolicy{cpp("a", selectors(policyv1alpha1.ResourceSelector{APIVersion: "extensions/v1beta1", Kind: "Deployment"}))},
			reason: Unclaimed,
		},
		{
			name: "an existing claim is kept against a better policy without preemption",
			obj:  deployment("default", "nginx", nil, ppRef("b")),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a", priority(5), selectors(byName("nginx"))), pp("default", "b")},
			want: ppRef("b"), reason: Kept,
		},
		{
			name: "a ClusterPropagationPolicy claim is kept against a PropagationPolicy without preemption",
			obj:  deployment("default", "nginx", nil, cppRef("c")),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a")},
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("c")},
			want: cppRef("c"), reason: Kept,
		},
		{
			name: "higher-priority PropagationPolicy with preemption Always takes over",
			obj:  deployment("default", "nginx", nil, ppRef("b")),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a", priority(1), preemptAlways), pp("default", "b")},
			want: ppRef("a"), reason: Preempted, changed: true,
		},
		{
			name: "equal priority does not preempt",
			obj:  deployment("default", "nginx", nil, ppRef("b")),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a", preemptAlways, selectors(byName("nginx"))), pp("default", "b")},
			want: ppRef("b"), reason: Kept,
		},
		{
			name: "lower-priority PropagationPolicy with preemption Always takes from any ClusterPropagationPolicy",
			obj:  deployment("default", "nginx", nil, cppRef("c")),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a", priority(-5), preemptAlways)},
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("c", priority(100))},
			want: ppRef("a"), reason: Preempted, changed: true,
		},
		{
			name: "higher-priority ClusterPropagationPolicy with preemption Always takes from a lower one",
			obj:  deployment("default", "nginx", nil, cppRef("c")),
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("c"), cpp("d", priority(2), preemptAlways)},
			want: cppRef("d"), reason: Preempted, changed: true,
		},
		{
			name: "a ClusterPropagationPolicy never preempts a PropagationPolicy",
			obj:  deployment("default", "nginx", nil, ppRef("a")),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a")},
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("c", priority(100), preemptAlways)},
			want: ppRef("a"), reason: Kept,
		},
		{
			name: "a preempting policy that does not match takes nothing",
			obj:  deployment("default", "nginx", nil, ppRef("b")),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a", priority(9), preemptAlways, selectors(byName("other"))), pp("default", "b")},
			want: ppRef("b"), reason: Kept,
		},
		{
			name: "a preempting policy being deleted takes nothing",
			obj:  deployment("default", "nginx", nil, ppRef("b")),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a", priority(9), preemptAlways, deleting), pp("default", "b")},
			want: ppRef("b"), reason: Kept,
		},
		{
			name: "of several preempting policies the best wins",
			obj:  deployment("default", "nginx", nil, cppRef("c")),
			pps: []*policyv1alpha1.PropagationPolicy{
				pp("default", "low", priority(1), preemptAlways),
				pp("default", "high", priority(3), preemptAlways),
			},
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("c"), cpp("d", priority(9), preemptAlways)},
			want: ppRef("high"), reason: Preempted, changed: true,
		},
		{
			name: "claiming policy deleted: a remaining matching policy claims",
			obj:  deployment("default", "nginx", nil, ppRef("gone")),
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("c")},
			want: cppRef("c"), reason: Reclaimed, changed: true,
		},
		{
			name: "claiming policy being deleted: another claims",
			obj:  deployment("default", "nginx", nil, ppRef("a")),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a", deleting), pp("default", "b")},
			want: ppRef("b"), reason: Reclaimed, changed: true,
		},
		{
			name: "claiming policy no longer matches: another claims",
			obj:  deployment("default", "nginx", nil, cppRef("c")),
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("c", selectors(byName("other"))), cpp("d")},
			want: cppRef("d"), reason: Reclaimed, changed: true,
		},
		{
			name:   "claiming policy deleted and nothing else matches: released",
			obj:    deployment("default", "nginx", nil, cppRef("c")),
			cpps:   []*policyv1alpha1.ClusterPropagationPolicy{cpp("c", deleting)},
			reason: Released, changed: true,
		},
		{
			name: "a claim naming another namespace is invalid",
			obj:  deployment("default", "nginx", nil, Ref{Namespace: "other", Name: "a"}),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("default", "a")},
			want: ppRef("a"), reason: Reclaimed, changed: true,
		},
		{
			name: "a cluster-scoped object is claimed only by ClusterPropagationPolicies",
			obj: func() *unstructured.Unstructured {
				u := deployment("", "nginx", nil, Ref{})
				u.SetAPIVersion("rbac.authorization.k8s.io/v1")
				u.SetKind("ClusterRole")
				return u
			}(),
			pps:  []*policyv1alpha1.PropagationPolicy{pp("", "a", selectors(policyv1alpha1.ResourceSelector{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}))},
			cpps: []*policyv1alpha1.ClusterPropagationPolicy{cpp("c", selectors(policyv1alpha1.ResourceSelector{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}))},
			want: cppRef("c"), reason: Claimed, changed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.obj.DeepCopy()
			d := Resolve(tt.obj, tt.pps, tt.cpps)
			if d.Ref != tt.want || d.Reason != tt.reason || d.Changed != tt.changed {
				t.Fatalf("Resolve = {%v %s changed=%v} (%s), want {%v %s changed=%v}", d.Ref, d.Reason, d.Changed, d.Message, tt.want, tt.reason, tt.changed)
			}
			if d.Message == "" {
				t.Error("empty Message")
			}
			spec := d.Spec()
			switch {
			case tt.want.IsZero() && spec != nil:
				t.Error("Spec() of no claim is not nil")
			case !tt.want.IsZero() && (spec == nil || (d.PropagationPolicy != nil) == tt.want.Cluster):
				t.Errorf("Spec()/policy do not match the winner %v", tt.want)
			}
			if d.PropagationPolicy != nil && PropagationPolicyRef(d.PropagationPolicy) != d.Ref {
				t.Errorf("PropagationPolicy %s/%s is not Ref %v", d.PropagationPolicy.Namespace, d.PropagationPolicy.Name, d.Ref)
			}
			if d.ClusterPropagationPolicy != nil && ClusterPropagationPolicyRef(d.ClusterPropagationPolicy) != d.Ref {
				t.Errorf("ClusterPropagationPolicy %s is not Ref %v", d.ClusterPropagationPolicy.Name, d.Ref)
			}
			if !equalObjects(before, tt.obj) {
				t.Error("Resolve modified the object")
			}
			// Recording the decision and resolving again is stable.
			Set(tt.obj, d.Ref)
			again := Resolve(tt.obj, tt.pps, tt.cpps)
			if again.Ref != d.Ref || again.Changed {
				t.Errorf("second Resolve = %v changed=%v (%s), want %v unchanged", again.Ref, again.Changed, again.Message, d.Ref)
			}
		})
	}
}

func equalObjects(a, b *unstructured.Unstructured) bool {
	aj, _ := a.MarshalJSON()
	bj, _ := b.MarshalJSON()
	return string(aj) == string(bj)
}

func TestResolveMessages(t *testing.T) {
	obj := deployment("default", "nginx", nil, ppRef("gone"))
	d := Resolve(obj, nil, nil)
	if d.Reason != Released || !strings.Contains(d.Message, "PropagationPolicy default/gone") || !strings.Contains(d.Message, "was deleted") {
		t.Errorf("Message = %q", d.Message)
	}
	obj = deployment("default", "nginx", nil, ppRef("b"))
	d = Resolve(obj, []*policyv1alpha1.PropagationPolicy{pp("default", "a", priority(2), preemptAlways), pp("default", "b")}, nil)
	if !strings.Contains(d.Message, "PropagationPolicy default/a (priority 2, match-all match)") || !strings.Contains(d.Message, "took over from PropagationPolicy default/b") {
		t.Errorf("Message = %q", d.Message)
	}
}
