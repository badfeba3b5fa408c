package member

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Labels and annotations on member copies.
const (
	// LabelManaged marks an object in a member as a copy fleetgate owns.
	LabelManaged = "fleetgate.io/managed"
	// AnnotationTemplate names the template: "<apiVersion>/<kind>/<namespace>/<name>" (namespace empty
	// for cluster-scoped kinds; apiVersion may itself contain a slash).
	AnnotationTemplate = "fleetgate.io/template"
	// AnnotationTemplateUID is the template's UID in the host.
	AnnotationTemplateUID = "fleetgate.io/template-uid"
)

// TemplateRef names a template as AnnotationTemplate does.
func TemplateRef(obj *unstructured.Unstructured) string {
	return obj.GetAPIVersion() + "/" + obj.GetKind() + "/" + obj.GetNamespace() + "/" + obj.GetName()
}

// Copy returns the member copy of a template: apiVersion, kind, name, namespace, labels, annotations
// and the body, without status and without what a server sets (uid, resourceVersion, generation,
// creationTimestamp, managedFields, finalizers, ownerReferences, deletion fields). Fields that each
// member must allocate for itself are dropped (a Service's clusterIP(s) and node ports are kept only
// when they are not allocated values… see pruneAllocated). The copy carries LabelManaged and the
// template annotations. The template is not modified.
func Copy(template *unstructured.Unstructured) *unstructured.Unstructured {
	out := template.DeepCopy()
	delete(out.Object, "status")
	meta, _ := out.Object["metadata"].(map[string]any)
	for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
		"finalizers", "ownerReferences", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "generateName"} {
		delete(meta, f)
	}
	labels := out.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManaged] = "true"
	out.SetLabels(labels)
	ann := out.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	for k := range ann {
		// The host's client-side-apply record describes the template, not the copy; claims are the
		// host's bookkeeping.
		if k == "kubectl.kubernetes.io/last-applied-configuration" || strings.HasPrefix(k, "propagationpolicy.karmada.io/") ||
			strings.HasPrefix(k, "clusterpropagationpolicy.karmada.io/") {
			delete(ann, k)
		}
	}
	ann[AnnotationTemplate] = TemplateRef(template)
	ann[AnnotationTemplateUID] = string(template.GetUID())
	out.SetAnnotations(ann)
	pruneAllocated(out)
	return out
}

// pruneAllocated removes fields a member allocates on its own and that would clash or be refused if
// copied from the host: a Service's cluster IPs and node ports, a Job's generated selector and
// controller-uid labels, a PersistentVolumeClaim's bound volume.
func pruneAllocated(obj *unstructured.Unstructured) {
	switch obj.GroupVersionKind().GroupKind().String() {
	case "Service":
		unstructured.RemoveNestedField(obj.Object, "spec", "clusterIP")
		unstructured.RemoveNestedField(obj.Object, "spec", "clusterIPs")
		unstructured.RemoveNestedField(obj.Object, "spec", "healthCheckNodePort")
		if ports, ok, _ := unstructured.NestedSlice(obj.Object, "spec", "ports"); ok {
			for _, p := range ports {
				if m, ok := p.(map[string]any); ok {
					delete(m, "nodePort")
				}
			}
			_ = unstructured.SetNestedSlice(obj.Object, ports, "spec", "ports")
		}
	case "Job.batch":
		if manual, _, _ := unstructured.NestedBool(obj.Object, "spec", "manualSelector"); !manual {
			unstructured.RemoveNestedField(obj.Object, "spec", "selector")
			for _, l := range []string{"controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"} {
				unstructured.RemoveNestedField(obj.Object, "spec", "template", "metadata", "labels", l)
			}
		}
	case "PersistentVolumeClaim":
		unstructured.RemoveNestedField(obj.Object, "spec", "volumeName")
	}
}

// IsManaged reports whether a member object is a fleetgate copy.
func IsManaged(obj *unstructured.Unstructured) bool {
	return obj.GetLabels()[LabelManaged] == "true"
}
