package validation

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func TestValidateResourceSelectors(t *testing.T) {
	tests := []struct {
		name     string
		rs       policyv1alpha1.ResourceSelector
		policyNS string
		want     []string
	}{
		{"valid", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment"}, "default", nil},
		{"own namespace", policyv1alpha1.ResourceSelector{APIVersion: "v1", Kind: "Service", Namespace: "default"}, "default", nil},
		{"any namespace for cluster policies", policyv1alpha1.ResourceSelector{APIVersion: "v1", Kind: "Service", Namespace: "prod"}, "", nil},
		{"other namespace", policyv1alpha1.ResourceSelector{APIVersion: "v1", Kind: "Service", Namespace: "prod"}, "default", []string{"FieldValueInvalid s[0].namespace"}},
		{"required", policyv1alpha1.ResourceSelector{}, "", []string{"FieldValueRequired s[0].apiVersion", "FieldValueRequired s[0].kind"}},
		{"bad apiVersion", policyv1alpha1.ResourceSelector{APIVersion: "a/b/c", Kind: "X"}, "", []string{"FieldValueInvalid s[0].apiVersion"}},
		{"bad labelSelector", policyv1alpha1.ResourceSelector{APIVersion: "v1", Kind: "Pod", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"-": "x"}}}, "", []string{"FieldValueInvalid s[0].labelSelector.matchLabels"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ovErrs(ValidateResourceSelectors([]policyv1alpha1.ResourceSelector{tt.rs}, tt.policyNS, field.NewPath("s")))
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
