package v1alpha1

// FailoverBehavior says how applications move away from failed clusters. fleetgate accepts these
// fields so that Karmada manifests apply unchanged; it does not act on them yet.
type FailoverBehavior struct {
	// Application configures failover when the application itself is unhealthy on a cluster.
	// +optional
	Application *ApplicationFailoverBehavior `json:"application,omitempty"`

	// Cluster configures failover when a whole cluster fails.
	// +optional
	Cluster *ClusterFailoverBehavior `json:"cluster,omitempty"`
}

// ApplicationFailoverBehavior configures failover on application failure.
type ApplicationFailoverBehavior struct {
	// DecisionConditions must all hold before the application is moved.
	// +required
	DecisionConditions DecisionConditions `json:"decisionConditions"`

	// PurgeMode says how the copy on the failed cluster is removed. Defaults to Graciously.
	// +kubebuilder:validation:Enum=Immediately;Graciously;Never;Directly;Gracefully
	// +kubebuilder:default=Graciously
	// +optional
	PurgeMode PurgeMode `json:"purgeMode,omitempty"`

	// GracePeriodSeconds is how long the old copy is kept while the new one becomes healthy
	// (Graciously only).
	// +optional
	GracePeriodSeconds *int32 `json:"gracePeriodSeconds,omitempty"`

	// StatePreservation copies state from the old copy to the new one.
	// +optional
	StatePreservation *StatePreservation `json:"statePreservation,omitempty"`
}

// ClusterFailoverBehavior configures failover on cluster failure.
type ClusterFailoverBehavior struct {
	// PurgeMode says how the copy on the failed cluster is removed. Defaults to Gracefully.
	// +kubebuilder:validation:Enum=Directly;Gracefully
	// +kubebuilder:default=Gracefully
	// +optional
	PurgeMode PurgeMode `json:"purgeMode,omitempty"`

	// StatePreservation copies state from the old copy to the new one.
	// +optional
	StatePreservation *StatePreservation `json:"statePreservation,omitempty"`
}

// DecisionConditions are the conditions for moving an application.
type DecisionConditions struct {
	// TolerationSeconds is how long the application may stay unhealthy before it is moved.
	// Defaults to 300.
	// +kubebuilder:default=300
	// +optional
	TolerationSeconds *int32 `json:"tolerationSeconds,omitempty"`
}

// PurgeMode says how an application's copy on the cluster it leaves is removed.
type PurgeMode string

const (
	// Immediately removes the old copy at once.
	Immediately PurgeMode = "Immediately"
	// Graciously removes the old copy once the new one is healthy or a timeout passed.
	Graciously PurgeMode = "Graciously"
	// Never leaves the old copy for a person to remove.
	Never PurgeMode = "Never"
	// PurgeModeDirectly is the newer name of Immediately.
	PurgeModeDirectly PurgeMode = "Directly"
	// PurgeModeGracefully is the newer name of Graciously.
	PurgeModeGracefully PurgeMode = "Gracefully"
)

// StatePreservation lists the state copied from an application's old copy to its new one.
type StatePreservation struct {
	// Rules each extract one value from the old copy.
	// +kubebuilder:validation:MinItems=1
	// +required
	Rules []StatePreservationRule `json:"rules"`
}

// StatePreservationRule extracts one value from the old copy and passes it to the new one as a label.
type StatePreservationRule struct {
	// AliasLabelName is the label that carries the value to the new copy.
	// +required
	AliasLabelName string `json:"aliasLabelName"`

	// JSONPath selects the value in the old copy's status.
	// +required
	JSONPath string `json:"jsonPath"`
}
