package reconcile

import (
	"context"
	"fmt"

	"github.com/fleetgate/fleetgate/propagate/names"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/fleetgate/fleetgate/apis/client"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/cache"
)

// bindingClient writes ResourceBindings and ClusterResourceBindings. Both are handled as
// ResourceBindings inside the package (same spec and status).
type bindingClient struct {
	rb  *client.Resource[workv1alpha2.ResourceBinding, *workv1alpha2.ResourceBinding]
	crb *client.Resource[workv1alpha2.ClusterResourceBinding, *workv1alpha2.ClusterResourceBinding]
}

func newBindingClient(host dynamic.Interface) bindingClient {
	return bindingClient{
		rb: client.NewResource[workv1alpha2.ResourceBinding](host, cache.ResourceBindingsGVR,
			workv1alpha2.GroupVersion.WithKind(workv1alpha2.ResourceKindResourceBinding)),
		crb: client.NewResource[workv1alpha2.ClusterResourceBinding](host, cache.ClusterResourceBindingsGVR,
			workv1alpha2.GroupVersion.WithKind(workv1alpha2.ResourceKindClusterResourceBinding)),
	}
}

func fromCluster(b *workv1alpha2.ClusterResourceBinding) *workv1alpha2.ResourceBinding {
	return &workv1alpha2.ResourceBinding{TypeMeta: b.TypeMeta, ObjectMeta: b.ObjectMeta, Spec: b.Spec, Status: b.Status}
}

func toCluster(b *workv1alpha2.ResourceBinding) *workv1alpha2.ClusterResourceBinding {
	return &workv1alpha2.ClusterResourceBinding{ObjectMeta: b.ObjectMeta, Spec: b.Spec, Status: b.Status}
}

func (b bindingClient) create(ctx context.Context, rb *workv1alpha2.ResourceBinding, namespaced bool) (*workv1alpha2.ResourceBinding, error) {
	opts := metav1.CreateOptions{FieldManager: names.FieldManager}
	if namespaced {
		return b.rb.Create(ctx, rb, opts)
	}
	out, err := b.crb.Create(ctx, toCluster(rb), opts)
	if err != nil {
		return nil, err
	}
	return fromCluster(out), nil
}

func (b bindingClient) update(ctx context.Context, rb *workv1alpha2.ResourceBinding, namespaced, status bool) (*workv1alpha2.ResourceBinding, error) {
	opts := metav1.UpdateOptions{FieldManager: names.FieldManager}
	switch {
	case namespaced && status:
		return b.rb.UpdateStatus(ctx, rb, opts)
	case namespaced:
		return b.rb.Update(ctx, rb, opts)
	}
	var (
		out *workv1alpha2.ClusterResourceBinding
		err error
	)
	if status {
		out, err = b.crb.UpdateStatus(ctx, toCluster(rb), opts)
	} else {
		out, err = b.crb.Update(ctx, toCluster(rb), opts)
	}
	if err != nil {
		return nil, err
	}
	return fromCluster(out), nil
}

// delete deletes rb (precondition: its UID); already gone is success.
func (b bindingClient) delete(ctx context.Context, rb *workv1alpha2.ResourceBinding, namespaced bool) error {
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &rb.UID}}
	var err error
	if namespaced {
		err = b.rb.Delete(ctx, rb.Namespace, rb.Name, opts)
	} else {
		err = b.crb.Delete(ctx, "", rb.Name, opts)
	}
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// binding returns the template's binding from the cache (never to be mutated), nil when none.
func (c *Controller) binding(k *kind, key Key) *workv1alpha2.ResourceBinding {
	name := names.BindingName(k.gvk.Kind, key.Name)
	if k.namespaced {
		b, ok := c.cache.ResourceBinding(key.Namespace, name)
		if !ok {
			return nil
		}
		return b
	}
	b, ok := c.cache.ClusterResourceBinding(name)
	if !ok {
		return nil
	}
	return fromCluster(b)
}

// liveBinding reads the template's binding from the host (not the cache), nil when none.
func (c *Controller) liveBinding(ctx context.Context, k *kind, key Key) (*workv1alpha2.ResourceBinding, error) {
	name := names.BindingName(k.gvk.Kind, key.Name)
	var (
		b   *workv1alpha2.ResourceBinding
		err error
	)
	if k.namespaced {
		b, err = c.bindings.rb.Get(ctx, key.Namespace, name)
	} else {
		var cb *workv1alpha2.ClusterResourceBinding
		if cb, err = c.bindings.crb.Get(ctx, "", name); err == nil {
			b = fromCluster(cb)
		}
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read binding %s: %w", name, err)
	}
	return b, nil
}

// desiredBinding is what the template worker wants a binding to say.
type desiredBinding struct {
	spec workv1alpha2.ResourceBindingSpec
	// annotations maps each annotation the reconciler owns to its value ("" removes it).
	annotations map[string]string
	status      statusInput
	// specOnly writes the spec and metadata only; the status waits for a later pass.
	specOnly bool
}

// bindingSpec is the binding spec of obj: the template, the placement and the claiming policy's
// settings (own; nil for a dependency no policy claims), the targets and the workloads requiring it.
func bindingSpec(obj *unstructured.Unstructured, own *policyv1alpha1.PropagationSpec, targets []workv1alpha2.TargetCluster,
	required []workv1alpha2.BindingSnapshot, replicas int32, conflict policyv1alpha1.ConflictResolution) workv1alpha2.ResourceBindingSpec {
	s := workv1alpha2.ResourceBindingSpec{
		Resource: workv1alpha2.ObjectReference{
			APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName(),
			UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion(),
		},
		Replicas:           replicas,
		Clusters:           targets,
		RequiredBy:         required,
		ConflictResolution: conflict,
	}
	if own != nil {
		s.PropagateDeps = own.PropagateDeps
		s.Placement = own.Placement.DeepCopy()
		if own.Suspension != nil {
			s.Suspension = &workv1alpha2.Suspension{Suspension: *own.Suspension.DeepCopy()}
		}
		s.PreserveResourcesOnDeletion = own.PreserveResourcesOnDeletion
	}
	return s
}

// ownerReference makes the template the binding's controlling owner, so the host's garbage
// collector removes the binding with the template.
func ownerReference(obj *unstructured.Unstructured) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Name: obj.GetName(), UID: obj.GetUID(),
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

// applyMeta sets the reconciler's annotations and owner reference on m.
func applyMeta(m *metav1.ObjectMeta, obj *unstructured.Unstructured, annotations map[string]string) {
	for k, v := range annotations {
		if v == "" {
			delete(m.Annotations, k)
			continue
		}
		if m.Annotations == nil {
			m.Annotations = map[string]string{}
		}
		m.Annotations[k] = v
	}
	owner := ownerReference(obj)
	refs := make([]metav1.OwnerReference, 0, len(m.OwnerReferences)+1)
	for _, r := range m.OwnerReferences {
		if r.Kind == owner.Kind && r.Name == owner.Name && r.APIVersion == owner.APIVersion || r.UID == owner.UID {
			continue // an earlier incarnation of the template, or ourselves (re-added below)
		}
		refs = append(refs, r)
	}
	m.OwnerReferences = append(refs, owner)
}

// writeBinding creates or updates the template's binding to say d, writing only what changed:
// metadata and spec with one update, status with another. Events on the template report what
// changed for each cluster.
func (c *Controller) writeBinding(ctx context.Context, k *kind, obj *unstructured.Unstructured, cur *workv1alpha2.ResourceBinding, d desiredBinding) error {
	var prev bindingView
	if cur == nil {
		b := &workv1alpha2.ResourceBinding{
			ObjectMeta: metav1.ObjectMeta{
				Name:   names.BindingName(obj.GetKind(), obj.GetName()),
				Labels: map[string]string{workv1alpha2.ResourceBindingPermanentIDLabel: string(uuid.NewUUID())},
			},
			Spec: d.spec,
		}
		if k.namespaced {
			b.Namespace = obj.GetNamespace()
		}
		applyMeta(&b.ObjectMeta, obj, d.annotations)
		created, err := c.bindings.create(ctx, b, k.namespaced)
		if err != nil {
			return fmt.Errorf("create binding %s: %w", b.Name, err)
		}
		cur = created
	} else {
		prev = bindingView{clusters: cur.Spec.Clusters, status: cur.Status, record: readRecord(cur.Annotations)}
		next := cur.DeepCopy()
		next.Spec = d.spec
		// The template's resourceVersion alone (e.g. a status update) is no reason to write.
		next.Spec.Resource.ResourceVersion = cur.Spec.Resource.ResourceVersion
		applyMeta(&next.ObjectMeta, obj, d.annotations)
		if !equality.Semantic.DeepEqual(cur.Spec, next.Spec) || !equality.Semantic.DeepEqual(cur.Annotations, next.Annotations) ||
			!equality.Semantic.DeepEqual(cur.OwnerReferences, next.OwnerReferences) {
			next.Spec.Resource.ResourceVersion = obj.GetResourceVersion()
			updated, err := c.bindings.update(ctx, next, k.namespaced, false)
			if err != nil {
				return fmt.Errorf("update binding %s: %w", next.Name, err)
			}
			cur = updated
		}
	}
	if d.specOnly {
		return nil
	}
	in := d.status
	in.generation = cur.Generation
	status := buildStatus(cur.Status, in)
	if !equality.Semantic.DeepEqual(cur.Status, status) {
		next := cur.DeepCopy()
		next.Status = status
		if _, err := c.bindings.update(ctx, next, k.namespaced, true); err != nil {
			return fmt.Errorf("update status of binding %s: %w", next.Name, err)
		}
	}
	c.emit(obj, bindingEvents(prev, bindingView{clusters: d.spec.Clusters, status: status, record: readRecord(cur.Annotations),
		overrides: appliedOverrides(cur.Annotations)}))
	return nil
}
