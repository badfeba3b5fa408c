package v1alpha2

// Kinds and resource (plural) names of this group.
const (
	ResourceKindResourceBinding          = "ResourceBinding"
	ResourcePluralResourceBinding        = "resourcebindings"
	ResourceKindClusterResourceBinding   = "ClusterResourceBinding"
	ResourcePluralClusterResourceBinding = "clusterresourcebindings"
)

// Condition types of a (Cluster)ResourceBinding.
const (
	// Scheduled is true when spec.clusters holds a scheduling result for the current generation.
	Scheduled = "Scheduled"
	// FullyApplied is true when the template was applied to every scheduled cluster.
	FullyApplied = "FullyApplied"
)

// Reasons of the Scheduled condition.
const (
	// BindingReasonSuccess: scheduling succeeded.
	BindingReasonSuccess = "Success"
	// BindingReasonSchedulerError: scheduling failed on an internal error.
	BindingReasonSchedulerError = "SchedulerError"
	// BindingReasonNoClusterFit: no cluster satisfies the placement.
	BindingReasonNoClusterFit = "NoClusterFit"
	// BindingReasonUnschedulable: the placement cannot be satisfied (e.g. spread constraints).
	BindingReasonUnschedulable = "Unschedulable"
)

// Reasons and messages of the FullyApplied condition.
const (
	// FullyAppliedSuccessReason: every scheduled cluster has the copy.
	FullyAppliedSuccessReason = "FullyAppliedSuccess"
	// FullyAppliedFailedReason: some scheduled cluster does not have it (yet).
	FullyAppliedFailedReason = "FullyAppliedFailed"
	// FullyAppliedSuccessMessage is the message of a True FullyApplied condition.
	FullyAppliedSuccessMessage = "All works have been successfully applied"
	// FullyAppliedFailedMessage is the message of a False FullyApplied condition.
	FullyAppliedFailedMessage = "Failed to apply all works, see status.aggregatedStatus for details"
)

// ResourceBindingPermanentIDLabel carries a stable identifier of a binding.
const ResourceBindingPermanentIDLabel = "resourcebinding.karmada.io/permanent-id"
