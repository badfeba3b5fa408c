package v1alpha1

const (
	// ResourceKindCluster is the kind of Cluster.
	ResourceKindCluster = "Cluster"
	// ResourcePluralCluster is the resource (plural) name of Cluster.
	ResourcePluralCluster = "clusters"
)

// Condition types of a Cluster.
const (
	// ClusterConditionReady is true when the member's apiserver answers /readyz to the gateway.
	ClusterConditionReady = "Ready"
	// ClusterConditionCompleteAPIEnablements is true when status.apiEnablements lists every
	// group/version the member serves (discovery returned no partial errors).
	ClusterConditionCompleteAPIEnablements = "CompleteAPIEnablements"
)

// Taint keys the gateway manages on Cluster.spec.taints.
const (
	// TaintClusterNotReady is set (effect NoSchedule) while the Ready condition is False.
	TaintClusterNotReady = "cluster.karmada.io/not-ready"
	// TaintClusterUnreachable is set (effect NoSchedule) while the Ready condition is Unknown.
	TaintClusterUnreachable = "cluster.karmada.io/unreachable"
	// TaintClusterTerminating is set (effect NoExecute) while the Cluster is being deleted.
	TaintClusterTerminating = "cluster.karmada.io/terminating"
)

// Keys of the Secrets named by ClusterSpec.SecretRef and ClusterSpec.ImpersonatorSecretRef.
const (
	// SecretTokenKey holds the bearer token.
	SecretTokenKey = "token"
	// SecretCADataKey holds the PEM CA bundle of the member's apiserver.
	SecretCADataKey = "caBundle"
)

// Cluster field names usable as ClusterAffinity fieldSelector keys and spreadByField values.
const (
	// ProviderField selects on spec.provider.
	ProviderField = "provider"
	// RegionField selects on spec.region.
	RegionField = "region"
	// ZoneField selects on spec.zones (and the deprecated spec.zone).
	ZoneField = "zone"
)
