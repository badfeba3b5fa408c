package v1alpha1

// OverriderOperator is the operation an overrider performs.
type OverriderOperator string

const (
	// OverriderOpAdd adds (or appends) the value.
	OverriderOpAdd OverriderOperator = "add"
	// OverriderOpRemove removes the value.
	OverriderOpRemove OverriderOperator = "remove"
	// OverriderOpReplace replaces the existing value.
	OverriderOpReplace OverriderOperator = "replace"
)

// PlaintextOverrider is one RFC 6902 JSON-patch operation on the object.
type PlaintextOverrider struct {
	// Path is the JSON pointer of the field to change, e.g. /spec/replicas.
	// +required
	Path string `json:"path"`

	// Operator is add, remove or replace.
	// +kubebuilder:validation:Enum=add;remove;replace
	// +required
	Operator OverriderOperator `json:"operator"`

	// Value is any JSON value. Required for add and replace, forbidden for remove.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Value JSON `json:"value,omitzero"`
}

// ImageComponent is a part of a container image reference.
type ImageComponent string

const (
	// Registry is the host (and port) part, e.g. registry.k8s.io. The first path segment counts as
	// a registry only if it contains "." or ":" or is "localhost".
	Registry ImageComponent = "Registry"
	// Repository is the path between the registry and the tag, e.g. library/nginx.
	Repository ImageComponent = "Repository"
	// Tag is the tag or digest. A value starting with "sha256:" becomes a digest.
	Tag ImageComponent = "Tag"
)

// ImageOverrider changes one component of container images.
type ImageOverrider struct {
	// Predicate limits the change to the image at one path. Without it every containers[*].image
	// of the pod template (not init containers) of Pod, ReplicaSet, Deployment, DaemonSet,
	// StatefulSet and Job is changed; other kinds are left alone.
	// +optional
	Predicate *ImagePredicate `json:"predicate,omitempty"`

	// Component is the part of the image to change: Registry, Repository or Tag.
	// +kubebuilder:validation:Enum=Registry;Repository;Tag
	// +required
	Component ImageComponent `json:"component"`

	// Operator is add (append Value to the component), remove (clear it) or replace (set it).
	// +kubebuilder:validation:Enum=add;remove;replace
	// +required
	Operator OverriderOperator `json:"operator"`

	// Value is the string to add or set. Ignored for remove.
	// +optional
	Value string `json:"value,omitempty"`
}

// ImagePredicate locates one image field.
type ImagePredicate struct {
	// Path is the JSON pointer of the image field, e.g. /spec/template/spec/containers/0/image.
	// +required
	Path string `json:"path"`
}

// CommandArgsOverrider changes the command or args of one container.
type CommandArgsOverrider struct {
	// ContainerName is the name of the container.
	// +required
	ContainerName string `json:"containerName"`

	// Operator is add (append Value, creating the list if missing) or remove (delete every element
	// equal to one of Value).
	// +kubebuilder:validation:Enum=add;remove
	// +required
	Operator OverriderOperator `json:"operator"`

	// Value are the strings to add or remove.
	// +optional
	Value []string `json:"value,omitempty"`
}

// LabelAnnotationOverrider changes labels or annotations.
type LabelAnnotationOverrider struct {
	// Operator is add (set the keys, creating the map if missing), remove (delete the listed keys
	// that exist) or replace (change only keys that exist).
	// +kubebuilder:validation:Enum=add;remove;replace
	// +required
	Operator OverriderOperator `json:"operator"`

	// Value holds the keys and values.
	// +optional
	Value map[string]string `json:"value,omitempty"`
}

// FieldOverrider changes a JSON or YAML document held in a string field.
type FieldOverrider struct {
	// FieldPath is the JSON pointer of the string field, e.g. /data/config.yaml.
	// +required
	FieldPath string `json:"fieldPath"`

	// JSON are operations on a field that holds a JSON document.
	// +optional
	JSON []JSONPatchOperation `json:"json,omitempty"`

	// YAML are operations on a field that holds a YAML document.
	// +optional
	YAML []YAMLPatchOperation `json:"yaml,omitempty"`
}

// JSONPatchOperation is one JSON-patch operation inside a JSON document.
type JSONPatchOperation struct {
	// SubPath is the JSON pointer inside the document.
	// +required
	SubPath string `json:"subPath"`

	// Operator is add, remove or replace.
	// +kubebuilder:validation:Enum=add;remove;replace
	// +required
	Operator OverriderOperator `json:"operator"`

	// Value is any JSON value. Required for add and replace, forbidden for remove.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Value JSON `json:"value,omitzero"`
}

// YAMLPatchOperation is one JSON-patch operation inside a YAML document.
type YAMLPatchOperation struct {
	// SubPath is the JSON pointer inside the document.
	// +required
	SubPath string `json:"subPath"`

	// Operator is add, remove or replace.
	// +kubebuilder:validation:Enum=add;remove;replace
	// +required
	Operator OverriderOperator `json:"operator"`

	// Value is any JSON value. Required for add and replace, forbidden for remove.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Value JSON `json:"value,omitzero"`
}
