package claim

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestPropagatable(t *testing.T) {
	tests := []struct {
		group, kind, namespace string
		want                   bool
	}{
		{"apps", "Deployment", "default", true},
		{"", "ConfigMap", "default", true},
		{"", "Namespace", "", true},
		{"rbac.authorization.k8s.io", "ClusterRole", "", true},
		{"certificates.k8s.io", "ClusterTrustBundle", "", true},
		{"apps", "Deployment", "kube-system", false},
		{"", "ConfigMap", "kube-public", false},
		{"", "ConfigMap", "kube-node-lease", false},
		{"", "Secret", "fleetgate-system", false},
		{"cluster.karmada.io", "Cluster", "", false},
		{"policy.karmada.io", "PropagationPolicy", "default", false},
		{"work.karmada.io", "ResourceBinding", "default", false},
		{"config.karmada.io", "ResourceInterpreterCustomization", "", false},
		{"fleetgate.io", "Anything", "", false},
		{"", "Event", "default", false},
		{"events.k8s.io", "Event", "default", false},
		{"coordination.k8s.io", "Lease", "default", false},
		{"authentication.k8s.io", "TokenReview", "", false},
		{"authorization.k8s.io", "SubjectAccessReview", "", false},
		{"authorization.k8s.io", "LocalSubjectAccessReview", "default", false},
		{"certificates.k8s.io", "CertificateSigningRequest", "", false},
		{"notkarmada.io", "Thing", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.group+"/"+tt.kind+"@"+tt.namespace, func(t *testing.T) {
			gvk := schema.GroupVersionKind{Group: tt.group, Version: "v1", Kind: tt.kind}
			if got := Propagatable(gvk, tt.namespace); got != tt.want {
				t.Errorf("Propagatable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPropagatableObjectNamespace(t *testing.T) {
	for name, want := range map[string]bool{"default": true, "team-a": true, "kube-system": false, "fleetgate-system": false} {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("Namespace")
		u.SetName(name)
		if got := PropagatableObject(u); got != want {
			t.Errorf("PropagatableObject(Namespace %s) = %v, want %v", name, got, want)
		}
	}
}
