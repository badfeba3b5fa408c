package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Placement says which member clusters receive an object and how its replicas are divided.
type Placement struct {
	// ClusterAffinity restricts the candidate clusters. Cannot be combined with ClusterAffinities.
	// When neither is set, every cluster is a candidate.
	// +optional
	ClusterAffinity *ClusterAffinity `json:"clusterAffinity,omitempty"`

	// ClusterAffinities are ordered groups of candidate clusters: the first group that has a
	// usable cluster is used, the later ones are fallbacks. Cannot be combined with
	// ClusterAffinity.
	// +optional
	ClusterAffinities []ClusterAffinityTerm `json:"clusterAffinities,omitempty"`

	// ClusterTolerations tolerate taints of clusters (Cluster.spec.taints). A NoSchedule taint
	// keeps new placements off a cluster; a NoExecute taint also removes existing ones.
	// +optional
	ClusterTolerations []corev1.Toleration `json:"clusterTolerations,omitempty"`

	// SpreadConstraints spread the object over groups of clusters.
	// +optional
	SpreadConstraints []SpreadConstraint `json:"spreadConstraints,omitempty"`

	// ReplicaScheduling says how the replicas of a workload are assigned to the selected clusters.
	// Without it every cluster gets the full replica count (Duplicated).
	// +optional
	ReplicaScheduling *ReplicaSchedulingStrategy `json:"replicaScheduling,omitempty"`
}

// ClusterAffinity selects member clusters. Excluded clusters are removed first, then the
// non-empty filters are ANDed; an empty affinity selects every cluster.
type ClusterAffinity struct {
	// LabelSelector selects clusters by their labels.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`

	// FieldSelector selects clusters by the fields provider, region and zone of Cluster.spec.
	// +optional
	FieldSelector *FieldSelector `json:"fieldSelector,omitempty"`

	// ClusterNames lists the clusters to select by name.
	// +optional
	ClusterNames []string `json:"clusterNames,omitempty"`

	// ExcludeClusters lists clusters that are never selected.
	// +optional
	ExcludeClusters []string `json:"exclude,omitempty"`
}

// ClusterAffinityTerm is one named group of ClusterAffinities.
type ClusterAffinityTerm struct {
	// AffinityName names the group.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +required
	AffinityName string `json:"affinityName"`

	ClusterAffinity `json:",inline"`
}

// FieldSelector selects clusters by fields of Cluster.spec.
type FieldSelector struct {
	// MatchExpressions are ANDed requirements. Keys: provider, region, zone (zone matches any of
	// spec.zones). Operators: In, NotIn.
	// +optional
	MatchExpressions []corev1.NodeSelectorRequirement `json:"matchExpressions,omitempty"`
}

// SpreadFieldValue is a Cluster field clusters can be grouped by.
type SpreadFieldValue string

const (
	// SpreadByFieldCluster makes every cluster its own group.
	SpreadByFieldCluster SpreadFieldValue = "cluster"
	// SpreadByFieldRegion groups clusters by spec.region.
	SpreadByFieldRegion SpreadFieldValue = "region"
	// SpreadByFieldZone groups clusters by zone.
	SpreadByFieldZone SpreadFieldValue = "zone"
	// SpreadByFieldProvider groups clusters by spec.provider.
	SpreadByFieldProvider SpreadFieldValue = "provider"
)

// SpreadConstraint spreads an object over groups of clusters.
type SpreadConstraint struct {
	// SpreadByField groups clusters by a Cluster field: cluster, region, zone or provider. Cannot
	// be combined with SpreadByLabel. When both are empty, cluster is used.
	// +kubebuilder:validation:Enum=cluster;region;zone;provider
	// +optional
	SpreadByField SpreadFieldValue `json:"spreadByField,omitempty"`

	// SpreadByLabel groups clusters by the value of this label key. Cannot be combined with
	// SpreadByField.
	// +optional
	SpreadByLabel string `json:"spreadByLabel,omitempty"`

	// MaxGroups is the largest number of groups to select.
	// +optional
	MaxGroups int `json:"maxGroups,omitempty"`

	// MinGroups is the smallest number of groups to select. Defaults to 1.
	// +optional
	MinGroups int `json:"minGroups,omitempty"`
}

// ReplicaSchedulingType says whether each cluster gets all replicas or a share.
type ReplicaSchedulingType string

const (
	// ReplicaSchedulingTypeDuplicated gives every selected cluster the full replica count.
	ReplicaSchedulingTypeDuplicated ReplicaSchedulingType = "Duplicated"
	// ReplicaSchedulingTypeDivided divides the replicas among the selected clusters.
	ReplicaSchedulingTypeDivided ReplicaSchedulingType = "Divided"
)

// ReplicaDivisionPreference says how Divided replicas are shared out.
type ReplicaDivisionPreference string

const (
	// ReplicaDivisionPreferenceAggregated uses as few clusters as possible, largest free
	// capacity first.
	ReplicaDivisionPreferenceAggregated ReplicaDivisionPreference = "Aggregated"
	// ReplicaDivisionPreferenceWeighted divides the replicas in proportion to cluster weights.
	ReplicaDivisionPreferenceWeighted ReplicaDivisionPreference = "Weighted"
)

// ReplicaSchedulingStrategy says how the replicas of a workload are assigned to clusters.
type ReplicaSchedulingStrategy struct {
	// ReplicaSchedulingType is Duplicated (every cluster gets all replicas) or Divided (the
	// replicas are shared out as ReplicaDivisionPreference says). Defaults to Divided when this
	// block is present.
	// +kubebuilder:validation:Enum=Duplicated;Divided
	// +optional
	ReplicaSchedulingType ReplicaSchedulingType `json:"replicaSchedulingType,omitempty"`

	// ReplicaDivisionPreference applies to Divided: Aggregated (as few clusters as possible) or
	// Weighted (in proportion to WeightPreference). Defaults to Weighted.
	// +kubebuilder:validation:Enum=Aggregated;Weighted
	// +optional
	ReplicaDivisionPreference ReplicaDivisionPreference `json:"replicaDivisionPreference,omitempty"`

	// WeightPreference gives the cluster weights for Weighted. When unset, every cluster weighs the
	// same.
	// +optional
	WeightPreference *ClusterPreferences `json:"weightPreference,omitempty"`
}

// ClusterPreferences gives the weights of clusters for Weighted division.
type ClusterPreferences struct {
	// StaticWeightList gives fixed weights. A cluster's weight is the largest weight of the entries
	// that match it; when no entry matches any selected cluster, all weigh 1.
	// +optional
	StaticWeightList []StaticClusterWeight `json:"staticWeightList,omitempty"`

	// DynamicWeight derives the weights from the clusters' state; it overrides StaticWeightList.
	// AvailableReplicas weighs each cluster by how many more replicas it can fit.
	// +kubebuilder:validation:Enum=AvailableReplicas
	// +optional
	DynamicWeight DynamicWeightFactor `json:"dynamicWeight,omitempty"`
}

// StaticClusterWeight is the weight of the clusters one affinity selects.
type StaticClusterWeight struct {
	// TargetCluster selects the clusters the weight applies to.
	// +required
	TargetCluster ClusterAffinity `json:"targetCluster"`

	// Weight of the selected clusters; at least 1.
	// +kubebuilder:validation:Minimum=1
	// +required
	Weight int64 `json:"weight"`
}

// DynamicWeightFactor is what dynamic cluster weights are derived from.
type DynamicWeightFactor string

const (
	// DynamicWeightByAvailableReplicas weighs each cluster by the number of replicas it can still
	// fit, from its free allocatable resources and the pod template's requests.
	DynamicWeightByAvailableReplicas DynamicWeightFactor = "AvailableReplicas"
)
