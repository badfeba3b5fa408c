package member

import (
	"context"
	"errors"
	"fmt"

	"github.com/fleetgate/fleetgate/propagate/names"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DryRun validates the write in the member (dryRun=All) without persisting it.
	DryRun bool
	// Overwrite takes over an existing object that fleetgate does not manage
	// (conflictResolution: Overwrite). Without it such an object is a *ConflictError.
	Overwrite bool
	// KnownManaged skips the read that checks for an unmanaged object: the caller knows the member
	// already holds fleetgate's copy (e.g. the binding says it was applied there).
	KnownManaged bool
}

// ConflictError says a member already has an object of that name that fleetgate does not manage.
type ConflictError struct {
	GVR             schema.GroupVersionResource
	Namespace, Name string
}

func (e *ConflictError) Error() string {
	what := e.GVR.Resource
	if e.GVR.Group != "" {
		what += "." + e.GVR.Group
	}
	ns := ""
	if e.Namespace != "" {
		ns = e.Namespace + "/"
	}
	return fmt.Sprintf("%s %s%s already exists and is not managed by fleetgate (conflictResolution is Abort; set Overwrite to take it over)", what, ns, e.Name)
}

// IsConflict reports whether err is a *ConflictError.
func IsConflict(err error) bool {
	var c *ConflictError
	return errors.As(err, &c)
}

func resource(c dynamic.Interface, gvr schema.GroupVersionResource, namespace string) dynamic.ResourceInterface {
	if namespace == "" {
		return c.Resource(gvr)
	}
	return c.Resource(gvr).Namespace(namespace)
}

// Apply server-side-applies the member copy obj (see Copy) with field manager "fleetgate", forcing
// ownership of the fields it sets. An existing object without LabelManaged is a *ConflictError
// unless o.Overwrite.
func Apply(ctx context.Context, c dynamic.Interface, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, o ApplyOptions) (*unstructured.Unstructured, error) {
	ri := resource(c, gvr, obj.GetNamespace())
	if !o.KnownManaged && !o.Overwrite {
		cur, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		switch {
		case err == nil && !IsManaged(cur):
			return nil, &ConflictError{GVR: gvr, Namespace: obj.GetNamespace(), Name: obj.GetName()}
		case err != nil && !apierrors.IsNotFound(err):
			return nil, err
		}
	}
	opts := metav1.ApplyOptions{FieldManager: names.FieldManager, Force: true}
	if o.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return ri.Apply(ctx, obj.GetName(), obj, opts)
}

// Delete removes fleetgate's copy of a template from a member. An object that is not a managed copy
// of that template (another template's copy, or an unmanaged object) is left alone. Already gone,
// or already being deleted, is success.
func Delete(ctx context.Context, c dynamic.Interface, gvr schema.GroupVersionResource, namespace, name string, templateRef string) error {
	ri := resource(c, gvr, namespace)
	cur, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !IsManaged(cur) || cur.GetAnnotations()[AnnotationTemplate] != templateRef {
		return nil
	}
	if cur.GetDeletionTimestamp() != nil {
		return nil // being deleted already
	}
	uid := cur.GetUID()
	err = ri.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

var namespaceGVR = corev1.SchemeGroupVersion.WithResource("namespaces")

// EnsureNamespace creates namespace ns in a member if it is missing, as a managed copy. Namespaces are
// created on every member a namespaced object goes to, and never taken over if they exist.
func EnsureNamespace(ctx context.Context, c dynamic.Interface, ns string) error {
	if ns == "" {
		return nil
	}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Namespace")
	u.SetName(ns)
	u.SetLabels(map[string]string{LabelManaged: "true"})
	u.SetAnnotations(map[string]string{AnnotationTemplate: "v1/Namespace//" + ns})
	_, err := c.Resource(namespaceGVR).Create(ctx, u, metav1.CreateOptions{FieldManager: names.FieldManager})
	if err == nil || apierrors.IsAlreadyExists(err) {
		return nil
	}
	return fmt.Errorf("create namespace %s: %w", ns, err)
}
