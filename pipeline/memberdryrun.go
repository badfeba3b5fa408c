package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/member"
	"github.com/fleetgate/fleetgate/propagate/plan"
)

// MemberClients gives a dynamic client per member (propagate/member.Clients implements it).
type MemberClients interface {
	Dynamic(ctx context.Context, cluster string) (dynamic.Interface, error)
}

// Namespaces says whether a host namespace goes to every Ready member by itself, whatever is
// written into it (the reconciler implements it: not reserved, not labelled
// namespace.karmada.io/skip-auto-propagation=true).
type Namespaces interface {
	NamespacePropagated(name string) bool
}

// memberDryRun sends each per-cluster object to its Ready target as a dry run, in parallel, within
// timeout. A rejection by any member (or an override that failed for it) fails the client's write
// with a Status naming each cluster and its reason, so nothing is stored. Unreachable clusters are
// skipped (the reconciler catches up); an unmanaged object in the way is not a rejection either
// (conflictResolution decides, and the binding reports it).
//
// A dry run writes nothing, and neither does anything it needs: a namespace missing in a member is
// created there first only when the host namespace goes to every member by itself (so its copy is
// no trace of this write). Otherwise that member's check is skipped: nothing can be in the way in a
// namespace that does not exist, and the member's own verdict comes at dispatch, on the binding.
type memberDryRun struct {
	handlesWrites
	clients MemberClients
	// propagated says which host namespaces reach the members by themselves (nil: none).
	propagated Namespaces
	// namespaces remembers the namespaces known to exist in each member.
	namespaces *member.Namespaces
	timeout    time.Duration
}

var _ ValidationInterface = memberDryRun{}

func (m memberDryRun) Validate(ctx context.Context, a *Attributes) error {
	if a.Plan == nil || !a.Plan.Claimed() || len(a.Plan.Clusters) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	overwrite := a.Plan.Spec.ConflictResolution == policyv1alpha1.ConflictOverwrite
	// Override failures are recorded before any dry run starts: from then on failures is written
	// only under mu.
	failures := map[string]string{}
	for name, cp := range a.Plan.Clusters {
		if cp.Err != nil {
			failures[name] = cp.Err.Error()
		}
	}
	var mu sync.Mutex
	a.Checked = map[string]bool{}
	var wg sync.WaitGroup
	for name, cp := range a.Plan.Clusters {
		if cp.Err != nil || !clusterv1alpha1.IsReady(cp.Cluster) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			reason, checked := m.dryRun(ctx, a.GVR, name, cp, overwrite)
			mu.Lock()
			defer mu.Unlock()
			if reason != "" {
				failures[name] = reason
			}
			a.Checked[name] = checked
		}()
	}
	wg.Wait()
	if len(failures) == 0 {
		return nil
	}
	return rejectedByMembers(a, failures)
}

// dryRun returns why the member rejects the object, or "" (accepted, or not reachable); checked says
// the member has no unmanaged object of that name in the way, so dispatch need not look again. One
// request in the usual case: a dry-run apply answers without a resourceVersion when nothing existed;
// only when something did is it read to see whose it is.
func (m memberDryRun) dryRun(ctx context.Context, gvr schema.GroupVersionResource, cluster string, cp *plan.ClusterPlan, overwrite bool) (reason string, checked bool) {
	logger := klog.FromContext(ctx).WithValues("cluster", cluster)
	c, err := m.clients.Dynamic(ctx, cluster)
	if err != nil {
		logger.V(2).Info("Member dry-run skipped", "err", err)
		return "", false
	}
	ns := cp.Object.GetNamespace()
	if ns != "" && m.propagated != nil && m.propagated.NamespacePropagated(ns) {
		// Created for real, as the namespace's own propagation does (or is about to).
		if err := m.namespaces.Ensure(ctx, c, cluster, ns); err != nil && !isAPIError(err) {
			logger.V(2).Info("Member dry-run skipped", "err", err)
			return "", false
		}
	}
	out, err := member.Apply(ctx, c, gvr, cp.Object, member.ApplyOptions{DryRun: true, Overwrite: true})
	switch {
	case ns != "" && isMissingNamespace(err, ns):
		m.namespaces.Forget(cluster, ns)
		logger.V(2).Info("Member dry-run skipped: the namespace is not in the member", "namespace", ns)
		return "", true
	case err == nil && (out.GetResourceVersion() == "" || overwrite):
		return "", true
	case err == nil:
		cur, err := resourceFor(c, gvr, ns).Get(ctx, cp.Object.GetName(), metav1.GetOptions{})
		return "", err == nil && member.IsManaged(cur)
	case !isAPIError(err):
		logger.V(2).Info("Member dry-run skipped: member unreachable", "err", err)
		return "", false
	case apierrors.IsNotFound(err) && isMissingResource(err):
		return fmt.Sprintf("%s: resource %s is not served there (is its CRD installed?)", err, gvrString(gvr)), false
	case apierrors.IsNotFound(err):
		m.namespaces.Forget(cluster, ns)
	}
	return err.Error(), false
}

func resourceFor(c dynamic.Interface, gvr schema.GroupVersionResource, ns string) dynamic.ResourceInterface {
	if ns == "" {
		return c.Resource(gvr)
	}
	return c.Resource(gvr).Namespace(ns)
}

// isAPIError says whether the member answered (a Status), as opposed to not being reachable.
func isAPIError(err error) bool {
	var s apierrors.APIStatus
	return errors.As(err, &s)
}

// isMissingNamespace says err is the member's "namespace ns not found".
func isMissingNamespace(err error, ns string) bool {
	var s apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &s) {
		return false
	}
	d := s.Status().Details
	return d != nil && d.Kind == "namespaces" && d.Name == ns
}

// isMissingResource tells a 404 for the resource type from a 404 for an object.
func isMissingResource(err error) bool {
	var s apierrors.APIStatus
	if !errors.As(err, &s) {
		return false
	}
	d := s.Status().Details
	return d == nil || d.Name == ""
}

func gvrString(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Version + "/" + gvr.Resource
	}
	return gvr.Resource + "." + gvr.Group + "/" + gvr.Version
}

// rejectedByMembers is the client's error: 422 Invalid, one cause per cluster.
func rejectedByMembers(a *Attributes, failures map[string]string) error {
	names := make([]string, 0, len(failures))
	for n := range failures {
		names = append(names, n)
	}
	sort.Strings(names)
	var msgs []string
	causes := make([]metav1.StatusCause, 0, len(names))
	for _, n := range names {
		msgs = append(msgs, fmt.Sprintf("cluster %s: %s", n, failures[n]))
		causes = append(causes, metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Field: "cluster[" + n + "]", Message: failures[n]})
	}
	gk := a.Resolved.GroupVersionKind().GroupKind()
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure,
		Code:   422,
		Reason: metav1.StatusReasonInvalid,
		Details: &metav1.StatusDetails{
			Group: gk.Group, Kind: gk.Kind, Name: a.Resolved.GetName(), Causes: causes,
		},
		Message: fmt.Sprintf("%s %q is rejected by member clusters: %s", kindString(gk), a.Resolved.GetName(), strings.Join(msgs, "; ")),
	}}
}

func kindString(gk schema.GroupKind) string {
	if gk.Group == "" {
		return gk.Kind
	}
	return gk.Kind + "." + gk.Group
}
