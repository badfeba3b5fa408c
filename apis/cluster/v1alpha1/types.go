package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories={karmada-io}
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="VERSION",type=string,JSONPath=`.status.kubernetesVersion`
// +kubebuilder:printcolumn:name="MODE",type=string,JSONPath=`.spec.syncMode`
// +kubebuilder:printcolumn:name="READY",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="API-ENDPOINT",type=string,JSONPath=`.spec.apiEndpoint`,priority=1
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Cluster is a member cluster of the fleet: how the gateway reaches it, where it runs, and the
// health the gateway last observed.
type Cluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says how to reach the member cluster and describes it for scheduling.
	// +required
	Spec ClusterSpec `json:"spec"`

	// Status is the state of the member cluster as last observed by the gateway.
	// +optional
	Status ClusterStatus `json:"status,omitempty"`
}

// ClusterSyncMode says who opens the connection between the gateway and a member cluster.
type ClusterSyncMode string

const (
	// Push means the gateway calls the member's apiserver directly with stored credentials.
	Push ClusterSyncMode = "Push"
	// Pull means an agent inside the member opens a tunnel to the gateway; no member credential is
	// stored in the control plane.
	Pull ClusterSyncMode = "Pull"
)

// ClusterSpec describes a member cluster.
type ClusterSpec struct {
	// ID is a unique identifier of the member cluster, usually the UID of its kube-system namespace.
	// +optional
	ID string `json:"id,omitempty"`

	// SyncMode says how the gateway reaches the member: Push (directly) or Pull (through the agent's
	// tunnel).
	// +kubebuilder:validation:Enum=Push;Pull
	// +required
	SyncMode ClusterSyncMode `json:"syncMode"`

	// APIEndpoint is the URL of the member's kube-apiserver (Push mode).
	// +optional
	APIEndpoint string `json:"apiEndpoint,omitempty"`

	// SecretRef names the Secret in the control plane that holds the credentials (keys "token" and
	// "caBundle") used to reach the member in Push mode.
	// +optional
	SecretRef *LocalSecretReference `json:"secretRef,omitempty"`

	// ImpersonatorSecretRef names the Secret in the control plane that holds the token of the
	// member-side account allowed to impersonate users.
	// +optional
	ImpersonatorSecretRef *LocalSecretReference `json:"impersonatorSecretRef,omitempty"`

	// InsecureSkipTLSVerification turns off verification of the member apiserver's serving
	// certificate. Only for testing.
	// +optional
	InsecureSkipTLSVerification bool `json:"insecureSkipTLSVerification,omitempty"`

	// ProxyURL is an HTTP(S) or SOCKS5 proxy used for requests to the member.
	// +optional
	ProxyURL string `json:"proxyURL,omitempty"`

	// ProxyHeader holds extra HTTP headers sent to the proxy named by ProxyURL.
	// +optional
	ProxyHeader map[string]string `json:"proxyHeader,omitempty"`

	// Provider is the name of the cloud provider running the member (matched by the
	// fieldSelector key "provider").
	// +optional
	Provider string `json:"provider,omitempty"`

	// Region is the region of the member (matched by the fieldSelector key "region").
	// +optional
	Region string `json:"region,omitempty"`

	// Zone is the zone of the member.
	// Deprecated: use Zones.
	// +optional
	Zone string `json:"zone,omitempty"`

	// Zones are the zones the member spans (matched by the fieldSelector key "zone").
	// +optional
	Zones []string `json:"zones,omitempty"`

	// Taints keep workloads off the member unless a policy's clusterTolerations tolerate them.
	// +optional
	Taints []corev1.Taint `json:"taints,omitempty"`

	// ResourceModels describe the grades of node capacity used to estimate how many replicas the
	// member can still fit. Accepted for compatibility; fleetgate does not use them.
	// +optional
	ResourceModels []ResourceModel `json:"resourceModels,omitempty"`
}

// LocalSecretReference names a Secret in the control plane.
type LocalSecretReference struct {
	// Namespace of the Secret.
	// +required
	Namespace string `json:"namespace"`

	// Name of the Secret.
	// +required
	Name string `json:"name"`
}

// ResourceModel is one grade of node capacity.
type ResourceModel struct {
	// Grade is the index of this model; higher grades have more capacity.
	// +required
	Grade uint `json:"grade"`

	// Ranges are the resource intervals of this grade.
	// +required
	Ranges []ResourceModelRange `json:"ranges"`
}

// ResourceModelRange is the interval [Min, Max) of one resource in a ResourceModel.
type ResourceModelRange struct {
	// Name of the resource, e.g. cpu or memory.
	// +required
	Name corev1.ResourceName `json:"name"`

	// Min is the inclusive lower bound.
	// +required
	Min resource.Quantity `json:"min"`

	// Max is the exclusive upper bound.
	// +required
	Max resource.Quantity `json:"max"`
}

// ClusterStatus is the observed state of a member cluster.
type ClusterStatus struct {
	// KubernetesVersion is the version the member's apiserver reports, e.g. v1.37.2.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`

	// APIEnablements lists the group/versions and resources the member serves.
	// +optional
	APIEnablements []APIEnablement `json:"apiEnablements,omitempty"`

	// Conditions are the member's current conditions; type Ready says whether the gateway can use it.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// NodeSummary counts the member's nodes.
	// +optional
	NodeSummary *NodeSummary `json:"nodeSummary,omitempty"`

	// ResourceSummary sums the member's node capacity and what is already requested.
	// +optional
	ResourceSummary *ResourceSummary `json:"resourceSummary,omitempty"`

	// RemedyActions are actions to take on the member. Accepted for compatibility; unused.
	// +optional
	RemedyActions []string `json:"remedyActions,omitempty"`
}

// APIEnablement is one group/version the member serves and its resources.
type APIEnablement struct {
	// GroupVersion is the group and version, e.g. apps/v1.
	// +required
	GroupVersion string `json:"groupVersion"`

	// Resources are the resources served under GroupVersion.
	// +optional
	Resources []APIResource `json:"resources,omitempty"`
}

// APIResource is one resource of an APIEnablement.
type APIResource struct {
	// Name is the plural resource name, e.g. deployments.
	// +required
	Name string `json:"name"`

	// Kind is the kind of the resource, e.g. Deployment.
	// +required
	Kind string `json:"kind"`
}

// NodeSummary counts the nodes of a member cluster.
type NodeSummary struct {
	// TotalNum is the number of nodes.
	// +optional
	TotalNum int32 `json:"totalNum,omitempty"`

	// ReadyNum is the number of Ready nodes.
	// +optional
	ReadyNum int32 `json:"readyNum,omitempty"`
}

// ResourceSummary sums the resources of a member cluster's nodes.
type ResourceSummary struct {
	// Allocatable is the sum of the nodes' allocatable resources.
	// +optional
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`

	// Allocating is the sum of the requests of pods not yet scheduled to a node.
	// +optional
	Allocating corev1.ResourceList `json:"allocating,omitempty"`

	// Allocated is the sum of the requests of pods scheduled to a node.
	// +optional
	Allocated corev1.ResourceList `json:"allocated,omitempty"`

	// AllocatableModelings count nodes per ResourceModel grade. Accepted for compatibility; unused.
	// +optional
	AllocatableModelings []AllocatableModeling `json:"allocatableModelings,omitempty"`
}

// AllocatableModeling is the number of nodes in one ResourceModel grade.
type AllocatableModeling struct {
	// Grade is the ResourceModel grade.
	// +required
	Grade uint `json:"grade"`

	// Count is the number of nodes in that grade.
	// +required
	Count int `json:"count"`
}

// +kubebuilder:object:root=true
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterList is a list of Clusters.
type ClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the clusters.
	Items []Cluster `json:"items"`
}
