package reconcile

import (
	"context"
	"slices"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/plan"
)

// depIndex remembers which dependencies each workload's pod template references (forward) and
// which workloads reference each dependency (reverse). It is a hint that finds the dependencies
// to look at; a dependency's sync checks every requirer against the caches before trusting it,
// and after a restart the dependencies' bindings (spec.requiredBy) name their requirers.
type depIndex struct {
	mu      sync.Mutex
	forward map[Key][]Key
	reverse map[Key]map[Key]bool
}

func newDepIndex() *depIndex {
	return &depIndex{forward: map[Key][]Key{}, reverse: map[Key]map[Key]bool{}}
}

// set records deps as workload w's dependencies and returns those added or removed.
func (d *depIndex) set(w Key, deps []Key) []Key {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.forward[w]
	var changed []Key
	for _, k := range old {
		if !slices.Contains(deps, k) {
			changed = append(changed, k)
			delete(d.reverse[k], w)
			if len(d.reverse[k]) == 0 {
				delete(d.reverse, k)
			}
		}
	}
	for _, k := range deps {
		if !slices.Contains(old, k) {
			changed = append(changed, k)
			if d.reverse[k] == nil {
				d.reverse[k] = map[Key]bool{}
			}
			d.reverse[k][w] = true
		}
	}
	if len(deps) == 0 {
		delete(d.forward, w)
	} else {
		d.forward[w] = deps
	}
	return changed
}

// of returns workload w's dependencies.
func (d *depIndex) of(w Key) []Key {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.forward[w])
}

// requirers returns the workloads that reference dependency k.
func (d *depIndex) requirers(k Key) []Key {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Key, 0, len(d.reverse[k]))
	for w := range d.reverse[k] {
		out = append(out, w)
	}
	return out
}

func isDependencyKind(gk schema.GroupKind) bool { return slices.Contains(dependencyKinds, gk) }

// trackDependencies records the dependencies of a workload claimed with propagateDeps (none
// otherwise) and queues the dependencies that were added or dropped.
func (c *Controller) trackDependencies(ctx context.Context, key Key, obj *unstructured.Unstructured, p *plan.Plan) {
	var deps []Key
	if p.Claimed() && p.Spec.PropagateDeps && isWorkload(obj.GroupVersionKind().GroupKind()) {
		var err error
		if deps, err = dependencies(obj); err != nil {
			klog.FromContext(ctx).Error(err, "Dependencies not propagated", "template", key)
		}
		for _, gk := range dependencyKinds {
			c.requestKind(gk)
		}
	}
	for _, d := range c.deps.set(key, deps) {
		c.queue.Add(d)
	}
}

// forgetDependencies drops a workload's dependencies and queues them.
func (c *Controller) forgetDependencies(key Key) {
	for _, d := range c.deps.set(key, nil) {
		c.queue.Add(d)
	}
}

// requiredBy returns the bindings of the workloads that require dependency key now, with their
// clusters, sorted; and whether one of them says conflictResolution Overwrite. A workload
// requires it while its binding exists with propagateDeps and its pod template references it.
func (c *Controller) requiredBy(key Key, cur *workv1alpha2.ResourceBinding) ([]workv1alpha2.BindingSnapshot, bool) {
	if !isDependencyKind(key.Kind) {
		return nil, false
	}
	cands := map[Key]bool{}
	for _, w := range c.deps.requirers(key) {
		cands[w] = true
	}
	if cur != nil {
		for _, s := range cur.Spec.RequiredBy {
			if w, ok := c.keyOfBinding(s.Namespace, s.Name); ok {
				cands[w] = true
			}
		}
	}
	var (
		out       []workv1alpha2.BindingSnapshot
		overwrite bool
	)
	for w := range cands {
		wk := c.kinds.get(w.Kind)
		if wk == nil {
			continue
		}
		wobj, ok := wk.get(w)
		wb := c.binding(wk, w)
		if !ok || wb == nil || !wb.Spec.PropagateDeps {
			continue
		}
		deps, _ := dependencies(wobj)
		if !slices.Contains(deps, key) {
			continue
		}
		out = append(out, workv1alpha2.BindingSnapshot{Namespace: wb.Namespace, Name: wb.Name, Clusters: wb.Spec.Clusters})
		overwrite = overwrite || wb.Spec.ConflictResolution == policyv1alpha1.ConflictOverwrite
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out, overwrite
}

// keyOfBinding returns the template of a binding in the cache.
func (c *Controller) keyOfBinding(namespace, name string) (Key, bool) {
	if namespace != "" {
		if b, ok := c.cache.ResourceBinding(namespace, name); ok {
			return c.keyOfResource(b.Spec.Resource)
		}
		return Key{}, false
	}
	if b, ok := c.cache.ClusterResourceBinding(name); ok {
		return c.keyOfResource(b.Spec.Resource)
	}
	return Key{}, false
}

// keyOfResource returns the Key of a binding's template, if its kind is watched.
func (c *Controller) keyOfResource(r workv1alpha2.ObjectReference) (Key, bool) {
	gk := schema.FromAPIVersionAndKind(r.APIVersion, r.Kind).GroupKind()
	if c.kinds.get(gk) == nil {
		return Key{}, false
	}
	return Key{Kind: gk, Namespace: r.Namespace, Name: r.Name}, true
}

// dependencyPolicy is the placement a dependency gets from the workloads requiring it: exactly
// their clusters, whatever their taints.
const dependencyPolicy = "fleetgate-dependencies"

// withDependencyTargets adds the clusters of the workloads requiring obj to p's targets (p may
// be unclaimed: then they are all its targets), with their per-cluster objects (overrides apply).
func (c *Controller) withDependencyTargets(obj *unstructured.Unstructured, p *plan.Plan, required []workv1alpha2.BindingSnapshot) *plan.Plan {
	var missing []string
	for _, s := range required {
		for _, t := range s.Clusters {
			if !slices.ContainsFunc(p.Targets, func(x workv1alpha2.TargetCluster) bool { return x.Name == t.Name }) && !slices.Contains(missing, t.Name) {
				missing = append(missing, t.Name)
			}
		}
	}
	if len(missing) == 0 {
		return p
	}
	sort.Strings(missing)
	cpp := &policyv1alpha1.ClusterPropagationPolicy{}
	cpp.Name = dependencyPolicy
	cpp.Spec = policyv1alpha1.PropagationSpec{
		ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Name: obj.GetName()}},
		Placement: policyv1alpha1.Placement{
			ClusterAffinity:    &policyv1alpha1.ClusterAffinity{ClusterNames: missing},
			ClusterTolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
	tmpl := obj.DeepCopy()
	claim.Set(tmpl, claim.Ref{})
	dp := plan.Compute(plan.Input{
		Template:                   tmpl,
		ClusterPropagationPolicies: []*policyv1alpha1.ClusterPropagationPolicy{cpp},
		OverridePolicies:           c.cache.OverridePolicies(obj.GetNamespace()),
		ClusterOverridePolicies:    c.cache.ClusterOverridePolicies(),
		Clusters:                   c.cache.Clusters(),
	})
	out := *p
	out.Targets = slices.Clone(p.Targets)
	out.Clusters = make(map[string]*plan.ClusterPlan, len(p.Clusters)+len(dp.Clusters))
	for n, cp := range p.Clusters {
		out.Clusters[n] = cp
	}
	for _, t := range dp.Targets {
		out.Targets = append(out.Targets, t)
		out.Clusters[t.Name] = dp.Clusters[t.Name]
	}
	sort.Slice(out.Targets, func(i, j int) bool { return out.Targets[i].Name < out.Targets[j].Name })
	if !p.Claimed() {
		out.SchedulingErr = nil // a dependency's targets are its requirers' clusters; nothing to schedule
	}
	return &out
}
