package reconcile

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
)

// Event reasons on templates and policies.
const (
	ReasonScheduleSucceeded = "ScheduleSucceeded"
	ReasonScheduleFailed    = "ScheduleFailed"
	ReasonApplySucceeded    = "ApplySucceeded"
	ReasonApplyFailed       = "ApplyFailed"
	ReasonDeleteSucceeded   = "DeleteSucceeded"
	ReasonDeleteFailed      = "DeleteFailed"
	ReasonClaimed           = "Claimed"
	ReasonReleased          = "Released"
	ReasonKindNotServed     = "KindNotServed"
)

// EventRecorder is the part of client-go's record.EventRecorder the reconciler uses.
type EventRecorder interface {
	Event(object runtime.Object, eventtype, reason, message string)
}

// event is one event to emit on a template.
type event struct {
	Type, Reason, Message string
}

// bindingView is the part of a binding that events are derived from.
type bindingView struct {
	clusters []workv1alpha2.TargetCluster
	status   workv1alpha2.ResourceBindingStatus
	record   map[string]string
	// overrides names, per cluster, the override policies applied to its copy.
	overrides map[string][]string
}

// appliedOverrides reads the policy names per cluster from a binding's applied-overrides and
// applied-cluster-overrides annotations (see overrideAnnotations).
func appliedOverrides(annotations map[string]string) map[string][]string {
	out := map[string][]string{}
	for _, key := range overrideAnnotations {
		var perCluster map[string][]struct {
			PolicyName string `json:"policyName"`
		}
		if json.Unmarshal([]byte(annotations[key]), &perCluster) != nil {
			continue
		}
		kind := "OverridePolicy"
		if key == policyv1alpha1.AppliedClusterOverrides {
			kind = "ClusterOverridePolicy"
		}
		for cluster, applied := range perCluster {
			for _, a := range applied {
				name := kind + " " + a.PolicyName
				if !slices.Contains(out[cluster], name) {
					out[cluster] = append(out[cluster], name)
				}
			}
		}
	}
	for c := range out {
		slices.Sort(out[c])
	}
	return out
}

// bindingEvents says what changed between two states of a binding, as events on its template.
// Events come only from changes, so a resync that changes nothing (also after a restart) emits
// nothing: a cluster's success is reported when its applied copy changes (one ApplySucceeded
// event names every cluster a pass applied to, each with the override policies its copy got:
// "Applied to clusters m1 (overrides: OverridePolicy a), m2"), a failure when its message changes, a scheduling failure when it starts or its message changes.
func bindingEvents(prev, next bindingView) []event {
	var out []event
	pc := meta.FindStatusCondition(prev.status.Conditions, workv1alpha2.Scheduled)
	nc := meta.FindStatusCondition(next.status.Conditions, workv1alpha2.Scheduled)
	switch {
	case nc == nil:
	case nc.Status != "True":
		if pc == nil || pc.Status != nc.Status || pc.Message != nc.Message {
			out = append(out, event{corev1.EventTypeWarning, ReasonScheduleFailed, nc.Message})
		}
	case pc == nil:
		// First scheduled: the ApplySucceeded events say where it went.
	case !slices.Equal(clusterNames(prev.clusters), clusterNames(next.clusters)) || pc.Status != "True":
		names := clusterNames(next.clusters)
		if len(names) > 0 {
			out = append(out, event{corev1.EventTypeNormal, ReasonScheduleSucceeded, "Scheduled to clusters " + strings.Join(names, ", ")})
		}
	}
	prevItems := map[string]workv1alpha2.AggregatedStatusItem{}
	for _, it := range prev.status.AggregatedStatus {
		prevItems[it.ClusterName] = it
	}
	targets := map[string]bool{}
	var applied []string // one event for every cluster a pass applied to: a host write per pass, not per cluster
	for _, it := range next.status.AggregatedStatus {
		targets[it.ClusterName] = true
		p, had := prevItems[it.ClusterName]
		switch {
		case it.Applied:
			if !had || !p.Applied || prev.record[it.ClusterName] != next.record[it.ClusterName] {
				part := it.ClusterName
				if ov := next.overrides[it.ClusterName]; len(ov) > 0 {
					part += " (overrides: " + strings.Join(ov, ", ") + ")"
				}
				applied = append(applied, part)
			}
		case it.AppliedMessage != "" && it.AppliedMessage != notAppliedYetReason:
			if !had || p.AppliedMessage != it.AppliedMessage {
				out = append(out, event{corev1.EventTypeWarning, ReasonApplyFailed,
					fmt.Sprintf("Failed to apply to cluster %s: %s", it.ClusterName, it.AppliedMessage)})
			}
		}
	}
	switch len(applied) {
	case 0:
	case 1:
		out = append(out, event{corev1.EventTypeNormal, ReasonApplySucceeded, "Applied to cluster " + applied[0]})
	default:
		out = append(out, event{corev1.EventTypeNormal, ReasonApplySucceeded, "Applied to clusters " + strings.Join(applied, ", ")})
	}
	var gone []string
	for c := range prev.record {
		if _, still := next.record[c]; !still && !targets[c] {
			gone = append(gone, c)
		}
	}
	slices.Sort(gone)
	for _, c := range gone {
		out = append(out, event{corev1.EventTypeNormal, ReasonDeleteSucceeded, "Deleted from cluster " + c})
	}
	return out
}

// emit records events on obj.
func (c *Controller) emit(obj runtime.Object, events []event) {
	for _, e := range events {
		c.recorder.Event(obj, e.Type, e.Reason, e.Message)
	}
}
