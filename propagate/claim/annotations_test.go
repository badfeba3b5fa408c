package claim

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func TestSetAndOf(t *testing.T) {
	tests := []struct {
		name        string
		before      map[string]string
		ref         Ref
		want        map[string]string
		wantChanged bool
	}{
		{
			name: "record a PropagationPolicy", ref: Ref{Namespace: "default", Name: "p"},
			want: map[string]string{
				policyv1alpha1.PropagationPolicyNamespaceAnnotation: "default",
				policyv1alpha1.PropagationPolicyNameAnnotation:      "p",
			},
			wantChanged: true,
		},
		{
			name: "switch to a ClusterPropagationPolicy, keep other annotations",
			before: map[string]string{
				"keep": "me",
				policyv1alpha1.PropagationPolicyNamespaceAnnotation: "default",
				policyv1alpha1.PropagationPolicyNameAnnotation:      "p",
			},
			ref:         Ref{Cluster: true, Name: "c"},
			want:        map[string]string{"keep": "me", policyv1alpha1.ClusterPropagationPolicyAnnotation: "c"},
			wantChanged: true,
		},
		{
			name:   "same claim is no change",
			before: map[string]string{policyv1alpha1.ClusterPropagationPolicyAnnotation: "c"},
			ref:    Ref{Cluster: true, Name: "c"},
			want:   map[string]string{policyv1alpha1.ClusterPropagationPolicyAnnotation: "c"},
		},
		{
			name:        "release removes every claim annotation",
			before:      map[string]string{policyv1alpha1.ClusterPropagationPolicyAnnotation: "c"},
			want:        nil,
			wantChanged: true,
		},
		{name: "release of an unclaimed object is no change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			u.SetNamespace("default")
			u.SetAnnotations(tt.before)
			if changed := Set(u, tt.ref); changed != tt.wantChanged {
				t.Errorf("Set changed = %v, want %v", changed, tt.wantChanged)
			}
			if got := u.GetAnnotations(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("annotations = %v, want %v", got, tt.want)
			}
			if got := Of(u); got != tt.ref {
				t.Errorf("Of = %v, want %v", got, tt.ref)
			}
			if Set(u, tt.ref) {
				t.Error("second Set reported a change")
			}
		})
	}
}

func TestOfDefaultsNamespace(t *testing.T) {
	u := &unstructured.Unstructured{}
	u.SetNamespace("ns1")
	u.SetAnnotations(map[string]string{policyv1alpha1.PropagationPolicyNameAnnotation: "p"})
	if got, want := Of(u), (Ref{Namespace: "ns1", Name: "p"}); got != want {
		t.Errorf("Of = %v, want %v", got, want)
	}
}

func TestRefString(t *testing.T) {
	for ref, want := range map[Ref]string{
		{}:                           "none",
		{Namespace: "ns", Name: "p"}: "PropagationPolicy ns/p",
		{Cluster: true, Name: "c"}:   "ClusterPropagationPolicy c",
	} {
		if got := ref.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", ref, got, want)
		}
	}
}
