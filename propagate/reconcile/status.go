package reconcile

import (
	"encoding/json"
	"errors"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/override"
	"github.com/fleetgate/fleetgate/propagate/placement"
	"github.com/fleetgate/fleetgate/propagate/plan"
)

// AnnotationAppliedHashes, on a (Cluster)ResourceBinding, records per cluster what fleetgate's copy
// there holds: a JSON object {"<cluster>": "<hash of the applied copy>"}. A cluster is listed from
// the first successful write until its copy is deleted; the hash changes when a new copy is
// applied. A resync that computes the same hash for a cluster writes nothing to it.
const AnnotationAppliedHashes = "fleetgate.io/applied-hashes"

// The binding's policy.karmada.io/applied-overrides and applied-cluster-overrides annotations hold,
// per cluster, what Karmada records on each cluster's Work: a JSON object
// {"<cluster>": [{"policyName": …, "overriders": {…}}, …]}; clusters without applied rules are left
// out, and the annotation is absent when no cluster has any.
var overrideAnnotations = []string{policyv1alpha1.AppliedOverrides, policyv1alpha1.AppliedClusterOverrides}

// Messages of the binding's status.
const (
	scheduledMessage    = "Binding has been scheduled successfully."
	noTargetsMessage    = "No cluster is scheduled."
	suspendedMessage    = "dispatching to this cluster is suspended"
	notAppliedYetReason = "not applied yet"
)

// result is the state of the copy in one target cluster, as the template worker sees it.
type result struct {
	applied bool
	message string
}

// statusInput is what the binding's status is computed from.
type statusInput struct {
	targets []workv1alpha2.TargetCluster
	results map[string]result
	// members is what each target's watched copy says (status, health); a target missing from it
	// keeps what the binding said.
	members  map[string]memberState
	schedErr error
	// generation is the binding's metadata.generation after the spec was written.
	generation int64
	// rescheduled is true when spec.clusters changed.
	rescheduled bool
	now         metav1.Time
}

// buildStatus returns the binding's status for in, starting from prev (conditions keep their
// transition times; each cluster's member status and health, written by others, are kept).
func buildStatus(prev workv1alpha2.ResourceBindingStatus, in statusInput) workv1alpha2.ResourceBindingStatus {
	out := *prev.DeepCopy()
	out.SchedulerObservedGeneration = in.generation
	scheduled := metav1.Condition{Type: workv1alpha2.Scheduled, ObservedGeneration: in.generation, LastTransitionTime: in.now}
	if in.schedErr == nil {
		scheduled.Status, scheduled.Reason, scheduled.Message = metav1.ConditionTrue, workv1alpha2.BindingReasonSuccess, scheduledMessage
		if in.rescheduled || out.LastScheduledTime == nil {
			t := in.now
			out.LastScheduledTime = &t
		}
	} else {
		scheduled.Status, scheduled.Reason, scheduled.Message = metav1.ConditionFalse, scheduleReason(in.schedErr), in.schedErr.Error()
	}
	meta.SetStatusCondition(&out.Conditions, scheduled)

	prevItems := map[string]workv1alpha2.AggregatedStatusItem{}
	for _, it := range prev.AggregatedStatus {
		prevItems[it.ClusterName] = it
	}
	out.AggregatedStatus = nil
	all := len(in.targets) > 0
	for _, t := range in.targets {
		r := in.results[t.Name]
		it := prevItems[t.Name]
		it.ClusterName, it.Applied, it.AppliedMessage = t.Name, r.applied, r.message
		if st, ok := in.members[t.Name]; ok {
			it.Status, it.Health = rawStatus(st.status), st.health
		}
		if !r.applied && r.message == "" {
			it.AppliedMessage = notAppliedYetReason
		}
		out.AggregatedStatus = append(out.AggregatedStatus, it)
		all = all && r.applied
	}
	applied := metav1.Condition{Type: workv1alpha2.FullyApplied, ObservedGeneration: in.generation, LastTransitionTime: in.now,
		Status: metav1.ConditionFalse, Reason: workv1alpha2.FullyAppliedFailedReason, Message: workv1alpha2.FullyAppliedFailedMessage}
	switch {
	case all:
		applied.Status, applied.Reason, applied.Message = metav1.ConditionTrue, workv1alpha2.FullyAppliedSuccessReason, workv1alpha2.FullyAppliedSuccessMessage
	case len(in.targets) == 0:
		applied.Message = noTargetsMessage
	}
	meta.SetStatusCondition(&out.Conditions, applied)
	return out
}

// scheduleReason is the Scheduled condition's reason for a scheduling failure.
func scheduleReason(err error) string {
	var serr *placement.Error
	if errors.As(err, &serr) && serr.Reason != "" {
		return serr.Reason
	}
	return workv1alpha2.BindingReasonSchedulerError
}

// overrideAnnotationValues returns the binding's applied-overrides annotations for the targets of
// p (see overrideAnnotations); a key maps to "" when no cluster has rules of that kind.
func overrideAnnotationValues(p *plan.Plan) (map[string]string, error) {
	per := map[string]map[string]json.RawMessage{}
	for _, k := range overrideAnnotations {
		per[k] = map[string]json.RawMessage{}
	}
	for name, cp := range p.Clusters {
		if cp == nil || len(cp.Applied) == 0 {
			continue
		}
		ann, err := override.AppliedAnnotations(cp.Applied)
		if err != nil {
			return nil, err
		}
		for k, v := range ann {
			if per[k] != nil {
				per[k][name] = json.RawMessage(v)
			}
		}
	}
	out := map[string]string{}
	for k, m := range per {
		out[k] = ""
		if len(m) > 0 {
			b, err := json.Marshal(m) // map keys are sorted
			if err != nil {
				return nil, err
			}
			out[k] = string(b)
		}
	}
	return out, nil
}

// readRecord parses AnnotationAppliedHashes; an unreadable record is an empty one (the copies are
// then written again, which is safe).
func readRecord(annotations map[string]string) map[string]string {
	out := map[string]string{}
	if v := annotations[AnnotationAppliedHashes]; v != "" {
		_ = json.Unmarshal([]byte(v), &out)
	}
	return out
}

// encodeRecord is the annotation value of a record, "" for an empty one.
func encodeRecord(r map[string]string) string {
	if len(r) == 0 {
		return ""
	}
	b, _ := json.Marshal(r)
	return string(b)
}

// clusterNames returns the sorted names of targets.
func clusterNames(targets []workv1alpha2.TargetCluster) []string {
	out := make([]string, 0, len(targets))
	for _, t := range targets {
		out = append(out, t.Name)
	}
	sort.Strings(out)
	return out
}
