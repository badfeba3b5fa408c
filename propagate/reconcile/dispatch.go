package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/propagate/names"

	"github.com/cenkalti/backoff/v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"

	"github.com/fleetgate/fleetgate/propagate/member"
)

// processNextClusterItem is one step of a cluster worker: a sweep, or the work published for one
// template in this cluster. The outcome is recorded; when it differs from the last one the
// template goes back to the template queue.
func (c *Controller) processNextClusterItem(ctx context.Context, d *dispatcher) bool {
	item, shutdown := d.queue.Get()
	if shutdown {
		return false
	}
	defer d.queue.Done(item)
	logger := klog.FromContext(ctx)
	if item.Sweep {
		c.ensureCopyWatch(d)
		if err := c.sweep(ctx, d, item.Key.Kind); err != nil {
			logger.Error(err, "Sweep incomplete; retrying", "cluster", d.name)
			d.queue.AddRateLimited(item)
			return true
		}
		d.queue.Forget(item)
		return true
	}
	w := c.tracker.want(item.Key, d.name)
	if w == nil {
		d.queue.Forget(item)
		return true
	}
	written, err := c.execute(ctx, d, w)
	o := &outcome{action: w.action, hash: w.hash, overwrite: w.overwrite, err: err, permanent: err != nil && isPermanent(err), written: written}
	changed := c.tracker.finish(item.Key, d.name, w, o)
	if w.action == actApply {
		c.waiters.answered(item.Key, d.name, w.hash) // the write pipeline need not wait for the next pass
	}
	if changed {
		c.queue.Add(item.Key)
	}
	switch {
	case err == nil:
		d.queue.Forget(item)
	case o.permanent:
		if changed {
			logger.Info("Member refused the write; retrying later", "cluster", d.name, "template", item.Key, "err", err, "retryAfter", c.opts.PermanentRetry)
		}
		d.queue.Forget(item)
		d.queue.AddAfter(item, c.opts.PermanentRetry)
	default:
		if changed {
			logger.Info("Member write failed; retrying", "cluster", d.name, "template", item.Key, "err", err)
		}
		d.queue.AddRateLimited(item)
	}
	return true
}

// execute carries out w in d's cluster: a few attempts with exponential backoff, bounded by
// Options.MemberTimeout; refusals that another attempt cannot change end it at once.
func (c *Controller) execute(ctx context.Context, d *dispatcher, w *work) (written string, _ error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.MemberTimeout)
	defer cancel()
	dyn, err := c.opts.Members.Dynamic(ctx, d.name)
	if err != nil {
		return "", err
	}
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMaxInterval(time.Second),
		backoff.WithMaxElapsedTime(2*time.Second),
	)
	var last error
	err = backoff.Retry(func() error {
		written, last = c.attempt(ctx, d, dyn, w)
		if last != nil && isPermanent(last) {
			return backoff.Permanent(last)
		}
		return last
	}, backoff.WithContext(backoff.WithMaxRetries(b, 3), ctx))
	if err != nil && last != nil {
		return "", last // the member's answer says more than "context deadline exceeded"
	}
	return written, err
}

// attempt does w once; written is the resourceVersion of the copy an apply left.
func (c *Controller) attempt(ctx context.Context, d *dispatcher, dyn dynamic.Interface, w *work) (written string, _ error) {
	switch w.action {
	case actNamespace:
		if d.namespaceKnown(w.name) {
			return "", nil // it exists (a sweep found it, or it was created for a template)
		}
		err := member.EnsureNamespace(ctx, dyn, w.name)
		if err == nil {
			d.setNamespace(w.name, true)
		}
		return "", err
	case actDelete:
		return "", member.Delete(ctx, dyn, w.gvr, w.namespace, w.name, w.ref)
	case actRelease:
		return "", releaseCopy(ctx, dyn, w)
	}
	if w.namespace != "" && !d.namespaceKnown(w.namespace) {
		if err := member.EnsureNamespace(ctx, dyn, w.namespace); err != nil {
			return "", err
		}
		d.setNamespace(w.namespace, true)
	}
	obj := retainMemberFields(w.object, d.watchedCopy(w.object.GroupVersionKind().GroupKind(), w.namespace, w.name))
	absent := !w.known && d.knownAbsent(w.object.GroupVersionKind().GroupKind(), w.namespace, w.name, c.opts.Clock.Now())
	out, err := member.Apply(ctx, dyn, w.gvr, obj, member.ApplyOptions{Overwrite: w.overwrite, KnownManaged: w.known, ExpectAbsent: absent})
	switch {
	case err == nil:
		return out.GetResourceVersion(), nil
	case isNamespaceMissing(err):
		d.setNamespace(w.namespace, false) // deleted behind our back: create it again next attempt
		return "", err
	case apierrors.IsNotFound(err):
		return "", &notServedError{gvr: w.gvr, err: err}
	}
	return "", err
}

// releaseCopy removes fleetgate's label and template annotations from its copy, which then
// belongs to the member (preserveResourcesOnDeletion).
func releaseCopy(ctx context.Context, dyn dynamic.Interface, w *work) error {
	r := dyn.Resource(w.gvr).Namespace(w.namespace) // "" addresses a cluster-scoped object
	cur, err := r.Get(ctx, w.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !member.IsManaged(cur) || cur.GetAnnotations()[member.AnnotationTemplate] != w.ref {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": cur.GetResourceVersion(),
		"labels":          map[string]any{member.LabelManaged: nil},
		"annotations":     map[string]any{member.AnnotationTemplate: nil, member.AnnotationTemplateUID: nil},
	}})
	_, err = r.Patch(ctx, w.name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: names.FieldManager})
	return err
}

// notServedError says a member does not serve the template's resource (its CRD is missing there).
type notServedError struct {
	gvr schema.GroupVersionResource
	err error
}

func (e *notServedError) Error() string {
	return fmt.Sprintf("the cluster does not serve %s (is its CRD installed there?): %v", e.gvr.String(), e.err)
}

func (e *notServedError) Unwrap() error { return e.err }

// isNamespaceMissing reports whether err is a NotFound about the object's namespace.
func isNamespaceMissing(err error) bool {
	var s apierrors.APIStatus
	if !errors.As(err, &s) || !apierrors.IsNotFound(err) {
		return false
	}
	d := s.Status().Details
	return d != nil && d.Kind == "namespaces"
}

// isPermanent reports whether another attempt of the same write cannot succeed until something
// else changes: a conflict under Abort, an object the member rejects, a kind it does not serve.
// Forbidden is not among them: a member apiserver answers 403 for a moment after it restarts,
// before its authorizer has caught up; such writes are retried with the queue's backoff.
func isPermanent(err error) bool {
	var ns *notServedError
	return member.IsConflict(err) || errors.As(err, &ns) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) ||
		apierrors.IsMethodNotSupported(err) || apierrors.IsNotAcceptable(err) ||
		apierrors.IsUnsupportedMediaType(err) || apierrors.IsRequestEntityTooLargeError(err)
}
