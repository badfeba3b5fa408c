package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=pp,categories={karmada-io}
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="CONFLICT-RESOLUTION",type=string,JSONPath=`.spec.conflictResolution`
// +kubebuilder:printcolumn:name="PRIORITY",type=integer,JSONPath=`.spec.priority`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PropagationPolicy propagates objects of its own namespace to member clusters.
type PropagationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which objects to propagate and where.
	// +required
	Spec PropagationSpec `json:"spec"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=cpp,categories={karmada-io}
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="CONFLICT-RESOLUTION",type=string,JSONPath=`.spec.conflictResolution`
// +kubebuilder:printcolumn:name="PRIORITY",type=integer,JSONPath=`.spec.priority`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterPropagationPolicy propagates cluster-scoped objects and objects of any namespace to member
// clusters. A matching PropagationPolicy in the object's namespace takes precedence.
type ClusterPropagationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which objects to propagate and where.
	// +required
	Spec PropagationSpec `json:"spec"`
}

// PropagationSpec is the desired behaviour of a (Cluster)PropagationPolicy.
type PropagationSpec struct {
	// ResourceSelectors pick the objects this policy propagates. At least one is required: an
	// empty list does not mean "everything".
	// +kubebuilder:validation:MinItems=1
	// +required
	ResourceSelectors []ResourceSelector `json:"resourceSelectors"`

	// Association selects related objects automatically.
	// Deprecated: use PropagateDeps.
	// +optional
	Association bool `json:"association,omitempty"`

	// PropagateDeps makes the ConfigMaps, Secrets, ServiceAccounts and PersistentVolumeClaims that
	// a workload's pod template references follow the workload to the same clusters.
	// Defaults to false.
	// +optional
	PropagateDeps bool `json:"propagateDeps,omitempty"`

	// Placement says which clusters receive the objects and how replicas are divided among them.
	// +optional
	Placement Placement `json:"placement,omitempty"`

	// Priority orders policies that match the same object: the higher value wins. Among equal
	// priorities the more specific selector wins (name over labelSelector over match-all), then
	// the alphabetically smaller policy name. Once claimed, an object keeps its policy unless a
	// later policy has preemption Always. Defaults to 0.
	// +kubebuilder:default=0
	// +optional
	Priority *int32 `json:"priority,omitempty"`

	// Preemption says whether this policy may take objects already claimed by a policy of lower
	// priority (a PropagationPolicy also preempts any ClusterPropagationPolicy). Always or Never;
	// defaults to Never.
	// +kubebuilder:validation:Enum=Always;Never
	// +kubebuilder:default=Never
	// +optional
	Preemption PreemptionBehavior `json:"preemption,omitempty"`

	// DependentOverrides lists OverridePolicies (in the policy's namespace) that must exist before
	// this policy takes effect. Other matching override policies still apply.
	// +optional
	DependentOverrides []string `json:"dependentOverrides,omitempty"`

	// SchedulerName is the scheduler that places the objects. Defaults to default-scheduler.
	// +kubebuilder:default="default-scheduler"
	// +optional
	SchedulerName string `json:"schedulerName,omitempty"`

	// Failover says how applications move away from failed clusters. Nil disables failover.
	// Accepted for compatibility.
	// +optional
	Failover *FailoverBehavior `json:"failover,omitempty"`

	// ConflictResolution says what happens when a member cluster already has an object of the same
	// name that fleetgate does not manage: Abort (default) leaves it alone and reports a conflict,
	// Overwrite takes it over.
	// +kubebuilder:validation:Enum=Abort;Overwrite
	// +kubebuilder:default=Abort
	// +optional
	ConflictResolution ConflictResolution `json:"conflictResolution,omitempty"`

	// ActivationPreference says when a change of this policy reaches the objects it already
	// claims: empty means at once; Lazy means only when the object itself next changes.
	// +kubebuilder:validation:Enum=Lazy
	// +optional
	ActivationPreference ActivationPreference `json:"activationPreference,omitempty"`

	// Suspension pauses the propagation of the claimed objects.
	// +optional
	Suspension *Suspension `json:"suspension,omitempty"`

	// PreserveResourcesOnDeletion keeps the member copies when the template is deleted or the
	// object is no longer placed on a cluster. Defaults to false.
	// +optional
	PreserveResourcesOnDeletion *bool `json:"preserveResourcesOnDeletion,omitempty"`

	// SchedulePriority orders the scheduling of the claimed objects. Accepted for compatibility.
	// +optional
	SchedulePriority *SchedulePriority `json:"schedulePriority,omitempty"`
}

// ResourceSelector selects objects by apiVersion and kind and, optionally, namespace, name or labels.
type ResourceSelector struct {
	// APIVersion of the objects, compared exactly (e.g. apps/v1).
	// +required
	APIVersion string `json:"apiVersion"`

	// Kind of the objects, compared exactly (e.g. Deployment).
	// +required
	Kind string `json:"kind"`

	// Namespace of the objects. Empty means the policy's own namespace for namespaced policies and
	// every namespace for cluster-scoped policies.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Name of the object. When set, LabelSelector is ignored. Empty selects every object of the
	// kind (narrowed by LabelSelector if set).
	// +optional
	Name string `json:"name,omitempty"`

	// LabelSelector narrows the objects by labels. Ignored when Name is set.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
}

// PreemptionBehavior says whether a policy may take objects claimed by another policy.
type PreemptionBehavior string

const (
	// PreemptAlways lets the policy take objects claimed by lower-priority policies.
	PreemptAlways PreemptionBehavior = "Always"
	// PreemptNever keeps objects with the policy that claimed them first.
	PreemptNever PreemptionBehavior = "Never"
)

// ConflictResolution says how to treat an existing, unmanaged object of the same name in a member.
type ConflictResolution string

const (
	// ConflictOverwrite takes the existing object over.
	ConflictOverwrite ConflictResolution = "Overwrite"
	// ConflictAbort leaves the existing object alone and reports the conflict.
	ConflictAbort ConflictResolution = "Abort"
)

// ActivationPreference says when a policy change reaches the objects already claimed.
type ActivationPreference string

const (
	// LazyActivation applies policy changes to an object only when the object itself changes.
	LazyActivation ActivationPreference = "Lazy"
)

// Suspension pauses parts of the propagation.
type Suspension struct {
	// Dispatching, when true, stops updates to every member cluster; the template still changes.
	// +optional
	Dispatching *bool `json:"dispatching,omitempty"`

	// DispatchingOnClusters stops updates to the listed member clusters only.
	// +optional
	DispatchingOnClusters *SuspendClusters `json:"dispatchingOnClusters,omitempty"`
}

// SuspendClusters names the member clusters a suspension applies to.
type SuspendClusters struct {
	// ClusterNames are the names of the member clusters.
	// +optional
	ClusterNames []string `json:"clusterNames,omitempty"`
}

// PriorityClassSource says where a SchedulePriority's class is defined.
type PriorityClassSource string

const (
	// KubePriorityClass refers to a scheduling.k8s.io/v1 PriorityClass.
	KubePriorityClass PriorityClassSource = "KubePriorityClass"
)

// SchedulePriority names the priority class used to order scheduling.
type SchedulePriority struct {
	// PriorityClassSource says where the class is defined. Defaults to KubePriorityClass.
	// +kubebuilder:validation:Enum=KubePriorityClass
	// +kubebuilder:default=KubePriorityClass
	// +optional
	PriorityClassSource PriorityClassSource `json:"priorityClassSource,omitempty"`

	// PriorityClassName is the name of the class.
	// +required
	PriorityClassName string `json:"priorityClassName"`
}

// +kubebuilder:object:root=true
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PropagationPolicyList is a list of PropagationPolicies.
type PropagationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the policies.
	Items []PropagationPolicy `json:"items"`
}

// +kubebuilder:object:root=true
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterPropagationPolicyList is a list of ClusterPropagationPolicies.
type ClusterPropagationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the policies.
	Items []ClusterPropagationPolicy `json:"items"`
}
