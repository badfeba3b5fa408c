package v1alpha1

// Kinds and resource (plural) names of this group.
const (
	ResourceKindPropagationPolicy          = "PropagationPolicy"
	ResourcePluralPropagationPolicy        = "propagationpolicies"
	ResourceKindClusterPropagationPolicy   = "ClusterPropagationPolicy"
	ResourcePluralClusterPropagationPolicy = "clusterpropagationpolicies"
	ResourceKindOverridePolicy             = "OverridePolicy"
	ResourcePluralOverridePolicy           = "overridepolicies"
	ResourceKindClusterOverridePolicy      = "ClusterOverridePolicy"
	ResourcePluralClusterOverridePolicy    = "clusteroverridepolicies"
)

// Annotations on a resource template that record the propagation policy that claimed it. An
// object keeps its claim until the policy is deleted or a preempting policy takes it.
const (
	// PropagationPolicyNamespaceAnnotation is the namespace of the claiming PropagationPolicy.
	PropagationPolicyNamespaceAnnotation = "propagationpolicy.karmada.io/namespace"
	// PropagationPolicyNameAnnotation is the name of the claiming PropagationPolicy.
	PropagationPolicyNameAnnotation = "propagationpolicy.karmada.io/name"
	// ClusterPropagationPolicyAnnotation is the name of the claiming ClusterPropagationPolicy.
	ClusterPropagationPolicyAnnotation = "clusterpropagationpolicy.karmada.io/name"
)

// Labels on a resource template that carry a stable identifier of the claiming policy.
const (
	// PropagationPolicyPermanentIDLabel identifies the claiming PropagationPolicy.
	PropagationPolicyPermanentIDLabel = "propagationpolicy.karmada.io/permanent-id"
	// ClusterPropagationPolicyPermanentIDLabel identifies the claiming ClusterPropagationPolicy.
	ClusterPropagationPolicyPermanentIDLabel = "clusterpropagationpolicy.karmada.io/permanent-id"
)

// Annotations on a per-cluster copy that list the override policies applied to it, in order, as
// JSON.
const (
	// AppliedOverrides lists the OverridePolicies applied.
	AppliedOverrides = "policy.karmada.io/applied-overrides"
	// AppliedClusterOverrides lists the ClusterOverridePolicies applied.
	AppliedClusterOverrides = "policy.karmada.io/applied-cluster-overrides"
)

// NamespaceSkipAutoPropagationLabel, set to "true" on a Namespace, keeps it from being created on
// every member cluster.
const NamespaceSkipAutoPropagationLabel = "namespace.karmada.io/skip-auto-propagation"
