package claim

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// reservedNamespaces are never propagated, nor is anything in them.
var reservedNamespaces = map[string]bool{
	"kube-system":      true,
	"kube-public":      true,
	"kube-node-lease":  true,
	"fleetgate-system": true,
}

// IsReservedNamespace reports whether ns is one of the namespaces that never propagate:
// kube-system, kube-public, kube-node-lease and fleetgate-system.
func IsReservedNamespace(ns string) bool { return reservedNamespaces[ns] }

// Propagatable reports whether objects of gvk in namespace (empty for cluster-scoped objects)
// may be propagated to member clusters (docs/ARCHITECTURE.md, 4.5). Never propagated: the
// fleetgate and Karmada API groups (*.karmada.io, *.fleetgate.io), events (core and
// events.k8s.io), leases, the review kinds (authentication.k8s.io, authorization.k8s.io,
// admission.k8s.io, imagepolicy.k8s.io), CertificateSigningRequests, and anything in a reserved
// namespace (IsReservedNamespace). For a Namespace object use PropagatableObject, which also
// checks the namespace's own name.
func Propagatable(gvk schema.GroupVersionKind, namespace string) bool {
	if IsReservedNamespace(namespace) {
		return false
	}
	g := gvk.Group
	switch {
	case isGroupOrSubgroup(g, "karmada.io"), isGroupOrSubgroup(g, "fleetgate.io"):
		return false
	case g == "" && gvk.Kind == "Event", g == "events.k8s.io":
		return false
	case g == "coordination.k8s.io" && gvk.Kind == "Lease":
		return false
	case g == "authentication.k8s.io", g == "authorization.k8s.io", g == "admission.k8s.io", g == "imagepolicy.k8s.io":
		return false
	case g == "certificates.k8s.io" && gvk.Kind == "CertificateSigningRequest":
		return false
	}
	return true
}

// PropagatableObject is Propagatable for obj, and false for a Namespace whose name is reserved.
func PropagatableObject(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	if gvk.Group == "" && gvk.Kind == "Namespace" && IsReservedNamespace(obj.GetName()) {
		return false
	}
	return Propagatable(gvk, obj.GetNamespace())
}

func isGroupOrSubgroup(group, domain string) bool {
	return group == domain || strings.HasSuffix(group, "."+domain)
}
