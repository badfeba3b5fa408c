package chaos

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
)

// Marks fleetgate puts on member copies (propagate/member; an e2e test names them itself).
const (
	labelManaged          = "fleetgate.io/managed"
	annotationTemplateUID = "fleetgate.io/template-uid"
)

// kinds are what the loop's policy selects, and all the checker compares.
var kinds = map[string]schema.GroupVersionResource{
	"ConfigMap":  {Version: "v1", Resource: "configmaps"},
	"Deployment": {Group: "apps", Version: "v1", Resource: "deployments"},
}

var bindingsGVR = workv1alpha2.GroupVersion.WithResource("resourcebindings")

// objKey names one object of one cluster: "ConfigMap chaos-3/cm-04".
type objKey struct{ kind, namespace, name string }

func (k objKey) String() string { return k.kind + " " + k.namespace + "/" + k.name }

// bindingName is Karmada's "<name>-<kind>", lower-cased.
func (k objKey) bindingName() string { return strings.ToLower(k.name + "-" + k.kind) }

// divergence is one way in which the fleet is not what the host says it should be.
type divergence struct {
	cluster string // "host" for templates and bindings
	object  string
	problem string
	details []string // expected vs found, one line each
}

func (d divergence) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %s", d.cluster, d.object, d.problem)
	for _, l := range d.details {
		b.WriteString("\n        " + l)
	}
	return b.String()
}

// snapshot is everything the checker compares, read straight from each apiserver.
type snapshot struct {
	host     map[objKey]*unstructured.Unstructured
	members  map[string]map[objKey]*unstructured.Unstructured
	bindings map[string]*workv1alpha2.ResourceBinding // "<namespace>/<name>"
}

// takeSnapshot lists, in every namespace, the checked kinds in the host and in each member, and
// the host's ResourceBindings.
func takeSnapshot(ctx context.Context, c *clients) (*snapshot, error) {
	s := &snapshot{members: map[string]map[objKey]*unstructured.Unstructured{}, bindings: map[string]*workv1alpha2.ResourceBinding{}}
	var err error
	if s.host, err = listKinds(ctx, c.hostDyn); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	for _, m := range members {
		if s.members[m], err = listKinds(ctx, c.memberDyn[m]); err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
	}
	list, err := c.hostDyn.Resource(bindingsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("host: list resourcebindings: %w", err)
	}
	for i := range list.Items {
		rb := &workv1alpha2.ResourceBinding{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, rb); err != nil {
			return nil, fmt.Errorf("decode binding %s: %w", list.Items[i].GetName(), err)
		}
		s.bindings[rb.Namespace+"/"+rb.Name] = rb
	}
	return s, nil
}

func listKinds(ctx context.Context, d dynamic.Interface) (map[objKey]*unstructured.Unstructured, error) {
	out := map[objKey]*unstructured.Unstructured{}
	for kind, gvr := range kinds {
		list, err := d.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", gvr.Resource, err)
		}
		for i := range list.Items {
			u := &list.Items[i]
			out[objKey{kind, u.GetNamespace(), u.GetName()}] = u
		}
	}
	return out, nil
}

// check compares the snapshot with what the host dictates for the templates of namespaces (each
// placed on every member): every member holds a managed copy of each live template with the
// template's view; no member holds a managed copy of anything else; no template is stuck
// Terminating; each binding targets every member, belongs to its template, and says applied (per
// cluster and FullyApplied) exactly where the copy is right; no binding outlives its template.
func (s *snapshot) check(namespaces []string) []divergence {
	var ds []divergence
	for _, key := range sortedKeys(s.host) {
		tpl := s.host[key]
		if !slices.Contains(namespaces, key.namespace) {
			continue
		}
		if tpl.GetDeletionTimestamp() != nil {
			ds = append(ds, divergence{cluster: "host", object: key.String(), problem: "template still Terminating",
				details: []string{fmt.Sprintf("finalizers: %v", tpl.GetFinalizers())}})
			continue
		}
		right := map[string]bool{}
		for _, m := range members {
			if d := compareCopy(m, key, tpl, s.members[m][key]); d != nil {
				ds = append(ds, *d)
			} else {
				right[m] = true
			}
		}
		ds = append(ds, s.checkBinding(key, tpl, right)...)
	}
	for _, m := range members {
		for _, key := range sortedKeys(s.members[m]) {
			got := s.members[m][key]
			if got.GetLabels()[labelManaged] != "true" {
				continue
			}
			if s.host[key] == nil || !slices.Contains(namespaces, key.namespace) {
				ds = append(ds, divergence{cluster: m, object: key.String(), problem: "managed copy without a template placing it here",
					details: []string{"found: " + viewOf(got).hash() + " (template-uid " + got.GetAnnotations()[annotationTemplateUID] + ")"}})
			}
		}
	}
	return append(ds, s.orphanBindings(namespaces)...)
}

// compareCopy returns what is wrong with a member's copy of tpl, nil when it is right.
func compareCopy(cluster string, key objKey, tpl, got *unstructured.Unstructured) *divergence {
	want := viewOf(tpl)
	d := &divergence{cluster: cluster, object: key.String()}
	switch {
	case got == nil:
		d.problem = "copy absent"
		d.details = append([]string{"expected content " + want.hash() + ":"}, want.summary(8)...)
	case got.GetLabels()[labelManaged] != "true":
		d.problem = "object present but not marked " + labelManaged + "=true"
	case got.GetAnnotations()[annotationTemplateUID] != string(tpl.GetUID()):
		d.problem = "copy of another incarnation of the template"
		d.details = []string{fmt.Sprintf("%s: expected %s, found %q", annotationTemplateUID, tpl.GetUID(), got.GetAnnotations()[annotationTemplateUID])}
	default:
		found := viewOf(got)
		if found.hash() == want.hash() {
			return nil
		}
		d.problem = fmt.Sprintf("content differs (expected %s, found %s)", want.hash(), found.hash())
		d.details = want.diff(found)
	}
	return d
}

// checkBinding checks the binding of a live template; right holds the members whose copy is right.
func (s *snapshot) checkBinding(key objKey, tpl *unstructured.Unstructured, right map[string]bool) []divergence {
	obj := "ResourceBinding " + key.namespace + "/" + key.bindingName()
	rb := s.bindings[key.namespace+"/"+key.bindingName()]
	if rb == nil {
		return []divergence{{cluster: "host", object: obj, problem: "binding absent", details: []string{"expected a binding for " + key.String()}}}
	}
	var ds []divergence
	add := func(problem, expected, found string) {
		ds = append(ds, divergence{cluster: "host", object: obj, problem: problem,
			details: []string{"expected " + expected + ", found " + found}})
	}
	if uid := rb.Spec.Resource.UID; uid != "" && uid != tpl.GetUID() {
		add("binding of another incarnation of the template", "spec.resource.uid "+string(tpl.GetUID()), string(uid))
	}
	var targets []string
	for _, c := range rb.Spec.Clusters {
		targets = append(targets, c.Name)
	}
	sort.Strings(targets)
	if want := strings.Join(members, ","); strings.Join(targets, ",") != want {
		add("wrong targets", "spec.clusters "+want, fmt.Sprintf("%q", strings.Join(targets, ",")))
	}
	applied := map[string]workv1alpha2.AggregatedStatusItem{}
	for _, it := range rb.Status.AggregatedStatus {
		applied[it.ClusterName] = it
	}
	all := true
	for _, m := range members {
		it := applied[m]
		all = all && right[m]
		if it.Applied != right[m] {
			add("aggregatedStatus["+m+"] is wrong", fmt.Sprintf("applied=%v (the copy is %s)", right[m], rightWord(right[m])),
				fmt.Sprintf("applied=%v %q", it.Applied, it.AppliedMessage))
		}
	}
	if got := conditionStatus(rb, workv1alpha2.FullyApplied); got != fmt.Sprint(boolStatus(all)) {
		add("FullyApplied is wrong", "FullyApplied="+string(boolStatus(all)), "FullyApplied="+got)
	}
	return ds
}

// orphanBindings are bindings of namespaces whose template is gone.
func (s *snapshot) orphanBindings(namespaces []string) []divergence {
	var ds []divergence
	var names []string
	for n := range s.bindings {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rb := s.bindings[n]
		if !slices.Contains(namespaces, rb.Namespace) {
			continue
		}
		r := rb.Spec.Resource
		if s.host[objKey{r.Kind, rb.Namespace, r.Name}] == nil {
			ds = append(ds, divergence{cluster: "host", object: "ResourceBinding " + n, problem: "binding without a template",
				details: []string{"spec.resource: " + r.Kind + " " + r.Name + " " + string(r.UID)}})
		}
	}
	return ds
}

func conditionStatus(rb *workv1alpha2.ResourceBinding, typ string) string {
	for _, c := range rb.Status.Conditions {
		if c.Type == typ {
			return string(c.Status)
		}
	}
	return "<none>"
}

func boolStatus(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

func rightWord(b bool) string {
	if b {
		return "right"
	}
	return "wrong or absent"
}

func sortedKeys(m map[objKey]*unstructured.Unstructured) []objKey {
	ks := make([]objKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].String() < ks[j].String() })
	return ks
}

// formatDivergences is the readable report of a failed check.
func formatDivergences(ds []divergence) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("  - " + d.String() + "\n")
	}
	return b.String()
}
