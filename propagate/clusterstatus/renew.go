package clusterstatus

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// CredentialRenewer renews a Push member's credentials when they are due (bootstrap.TokenRenewer).
type CredentialRenewer interface {
	// Renew renews what of c's credentials is due. It returns what it renewed (nothing: nothing was
	// due) and when the next renewal is due (zero: nothing it can renew).
	Renew(ctx context.Context, c *clusterv1alpha1.Cluster) (renewed []string, next time.Time, err error)
}

// EventRecorder is the part of client-go's record.EventRecorder the controller uses.
type EventRecorder interface {
	Event(object runtime.Object, eventtype, reason, message string)
}

// Event reasons on Clusters.
const (
	ReasonCredentialsRenewed      = "CredentialsRenewed"
	ReasonCredentialRenewalFailed = "CredentialRenewalFailed"
)

// renewalRecheck is the longest a cluster's visits go without asking the renewer: a token replaced
// by hand (say, with a shorter one) is looked at within it.
const renewalRecheck = 10 * time.Minute

// renewals remembers, per cluster, when its renewer is to be asked again, so that the visits in
// between read no Secrets. A failed renewal is forgotten: the next visit tries again.
type renewals struct {
	mu   sync.Mutex
	next map[string]renewalDue
}

type renewalDue struct {
	uid types.UID // a Cluster joined again under the same name is asked at once
	at  time.Time
}

func (r *renewals) due(c *clusterv1alpha1.Cluster, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.next[c.Name]
	return !ok || d.uid != c.UID || !now.Before(d.at)
}

func (r *renewals) set(c *clusterv1alpha1.Cluster, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next == nil {
		r.next = map[string]renewalDue{}
	}
	r.next[c.Name] = renewalDue{uid: c.UID, at: at}
}

func (r *renewals) forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.next, name)
}

// renew asks the renewer to renew cur's credentials when they may be due, before the visit's
// probe (which then uses them). A failure is logged and recorded as a Warning event on the
// Cluster, and tried again at the next visit; it does not fail the visit.
func (c *Controller) renew(ctx context.Context, cur *clusterv1alpha1.Cluster) {
	if c.opts.Renewer == nil || cur.Spec.SyncMode != clusterv1alpha1.Push || cur.DeletionTimestamp != nil {
		return
	}
	now := c.opts.Clock.Now()
	if !c.renewals.due(cur, now) {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	logger := klog.FromContext(ctx)
	renewed, next, err := c.opts.Renewer.Renew(rctx, cur)
	if len(renewed) > 0 {
		logger.Info("Member credentials renewed", "cluster", klog.KObj(cur), "secrets", renewed, "nextRenewal", next)
		c.event(cur, corev1.EventTypeNormal, ReasonCredentialsRenewed, fmt.Sprintf("renewed the tokens in %s", strings.Join(renewed, ", ")))
	}
	if err != nil {
		logger.Error(err, "Member credentials not renewed; trying again at the next visit", "cluster", klog.KObj(cur))
		c.event(cur, corev1.EventTypeWarning, ReasonCredentialRenewalFailed, err.Error())
		c.renewals.forget(cur.Name)
		return
	}
	if next.IsZero() || next.After(now.Add(renewalRecheck)) {
		next = now.Add(renewalRecheck)
	}
	c.renewals.set(cur, next)
}

func (c *Controller) event(cur *clusterv1alpha1.Cluster, eventtype, reason, message string) {
	if c.opts.Recorder != nil {
		c.opts.Recorder.Event(cur, eventtype, reason, message)
	}
}
