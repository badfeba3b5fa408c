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
	"k8s.io/apimachinery/pkg/types"
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
	// ExpectAbsent says the caller has reason to think no object of that name is there (a listing
	// moments ago did not show one): the copy is applied without the read and without forcing, so
	// an object that appeared meanwhile and holds other values in the copy's fields makes the
	// apply conflict instead of being overwritten; then Apply reads and decides as without it.
	ExpectAbsent bool
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
	if o.ExpectAbsent && !o.KnownManaged && !o.Overwrite {
		opts := metav1.ApplyOptions{FieldManager: names.FieldManager}
		if o.DryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		out, err := ri.Apply(ctx, obj.GetName(), obj, opts)
		if !apierrors.IsConflict(err) {
			return out, err
		}
		// Something is there after all, with other values: read it, as without ExpectAbsent.
	}
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

// Observed is a member copy as the caller saw it (in a list): which object it was, at which
// version, and whose copy it said it was.
type Observed struct {
	Namespace, Name string
	UID             types.UID
	ResourceVersion string
	// Template and TemplateUID are its AnnotationTemplate and AnnotationTemplateUID.
	Template, TemplateUID string
}

// Observe records what obj is now.
func Observe(obj *unstructured.Unstructured) Observed {
	ann := obj.GetAnnotations()
	return Observed{
		Namespace: obj.GetNamespace(), Name: obj.GetName(),
		UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion(),
		Template: ann[AnnotationTemplate], TemplateUID: ann[AnnotationTemplateUID],
	}
}

// isStill says whether cur is still the copy o saw: the same object (UID), managed, of the same
// incarnation of the same template, and not being deleted.
func (o Observed) isStill(cur *unstructured.Unstructured) bool {
	ann := cur.GetAnnotations()
	return cur.GetUID() == o.UID && IsManaged(cur) && cur.GetDeletionTimestamp() == nil &&
		ann[AnnotationTemplate] == o.Template && ann[AnnotationTemplateUID] == o.TemplateUID
}

// deleteObservedAttempts bounds how often DeleteObserved retries an object that keeps changing.
const deleteObservedAttempts = 3

// DeleteObserved deletes the member object o saw, if it is still that copy, and says whether it
// did. It never deletes another object of the same name (one re-created since, with another UID),
// nor the same object once it has been rewritten for another template or another incarnation of
// the template (a new template UID), nor one that is no longer managed: the delete carries UID and
// resourceVersion preconditions, and when it conflicts because the object changed, the object is
// read again and checked before the next attempt. Gone, changed into someone else's copy, or still
// changing after a few attempts (the next sweep looks again) is not an error.
func DeleteObserved(ctx context.Context, c dynamic.Interface, gvr schema.GroupVersionResource, o Observed) (deleted bool, err error) {
	ri := resource(c, gvr, o.Namespace)
	rv := o.ResourceVersion
	for range deleteObservedAttempts {
		if rv == "" {
			cur, err := ri.Get(ctx, o.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, fmt.Errorf("read %s: %w", o.Name, err)
			}
			if !o.isStill(cur) {
				return false, nil
			}
			rv = cur.GetResourceVersion()
		}
		uid := o.UID
		err := ri.Delete(ctx, o.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsNotFound(err):
			return false, nil
		case !apierrors.IsConflict(err):
			return false, fmt.Errorf("delete %s: %w", o.Name, err)
		}
		rv = "" // it changed since it was seen: look again
	}
	return false, nil
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
