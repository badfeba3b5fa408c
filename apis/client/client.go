package client

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// Object is a pointer to one of the API kinds of apis/.
type Object[T any] interface {
	*T
	runtime.Object
	metav1.Object
}

// Resource is typed access to one resource. The zero namespace means cluster-scoped (or all
// namespaces for List).
type Resource[T any, P Object[T]] struct {
	client dynamic.Interface
	gvr    schema.GroupVersionResource
	gvk    schema.GroupVersionKind
}

// NewResource returns typed access to gvr, whose objects are of kind gvk.
func NewResource[T any, P Object[T]](c dynamic.Interface, gvr schema.GroupVersionResource, gvk schema.GroupVersionKind) *Resource[T, P] {
	return &Resource[T, P]{client: c, gvr: gvr, gvk: gvk}
}

// Clusters returns typed access to cluster.karmada.io/v1alpha1 Clusters.
func Clusters(c dynamic.Interface) *Resource[clusterv1alpha1.Cluster, *clusterv1alpha1.Cluster] {
	return NewResource[clusterv1alpha1.Cluster](c, clusterv1alpha1.GroupVersion.WithResource("clusters"),
		clusterv1alpha1.GroupVersion.WithKind("Cluster"))
}

func (r *Resource[T, P]) ri(namespace string) dynamic.ResourceInterface {
	if namespace == "" {
		return r.client.Resource(r.gvr)
	}
	return r.client.Resource(r.gvr).Namespace(namespace)
}

// Get reads one object.
func (r *Resource[T, P]) Get(ctx context.Context, namespace, name string) (P, error) {
	u, err := r.ri(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return FromUnstructured[T, P](u)
}

// Create creates obj in its namespace.
func (r *Resource[T, P]) Create(ctx context.Context, obj P, opts metav1.CreateOptions) (P, error) {
	u, err := r.toUnstructured(obj)
	if err != nil {
		return nil, err
	}
	out, err := r.ri(obj.GetNamespace()).Create(ctx, u, opts)
	if err != nil {
		return nil, err
	}
	return FromUnstructured[T, P](out)
}

// Update replaces obj (optimistic concurrency on its resourceVersion).
func (r *Resource[T, P]) Update(ctx context.Context, obj P, opts metav1.UpdateOptions) (P, error) {
	u, err := r.toUnstructured(obj)
	if err != nil {
		return nil, err
	}
	out, err := r.ri(obj.GetNamespace()).Update(ctx, u, opts)
	if err != nil {
		return nil, err
	}
	return FromUnstructured[T, P](out)
}

// UpdateStatus replaces the status subresource of obj.
func (r *Resource[T, P]) UpdateStatus(ctx context.Context, obj P, opts metav1.UpdateOptions) (P, error) {
	u, err := r.toUnstructured(obj)
	if err != nil {
		return nil, err
	}
	out, err := r.ri(obj.GetNamespace()).UpdateStatus(ctx, u, opts)
	if err != nil {
		return nil, err
	}
	return FromUnstructured[T, P](out)
}

// Delete deletes one object.
func (r *Resource[T, P]) Delete(ctx context.Context, namespace, name string, opts metav1.DeleteOptions) error {
	return r.ri(namespace).Delete(ctx, name, opts)
}

// List lists objects in namespace ("" = all or cluster-scoped).
func (r *Resource[T, P]) List(ctx context.Context, namespace string, opts metav1.ListOptions) ([]P, error) {
	l, err := r.ri(namespace).List(ctx, opts)
	if err != nil {
		return nil, err
	}
	out := make([]P, 0, len(l.Items))
	for i := range l.Items {
		o, err := FromUnstructured[T, P](&l.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (r *Resource[T, P]) toUnstructured(obj P) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s %s: %w", r.gvk.Kind, obj.GetName(), err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(r.gvk)
	return u, nil
}

// FromUnstructured converts an unstructured object into its Go type.
func FromUnstructured[T any, P Object[T]](u *unstructured.Unstructured) (P, error) {
	var obj T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &obj); err != nil {
		return nil, fmt.Errorf("convert %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return P(&obj), nil
}
