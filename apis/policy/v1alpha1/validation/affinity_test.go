package validation

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

func TestValidateClusterAffinity(t *testing.T) {
	fields := func(reqs ...corev1.NodeSelectorRequirement) *policyv1alpha1.FieldSelector {
		return &policyv1alpha1.FieldSelector{MatchExpressions: reqs}
	}
	tests := []struct {
		name string
		aff  *policyv1alpha1.ClusterAffinity
		want []string
	}{
		{"nil", nil, nil},
		{"empty", &policyv1alpha1.ClusterAffinity{}, nil},
		{"valid", &policyv1alpha1.ClusterAffinity{
			ClusterNames: []string{"a"}, ExcludeClusters: []string{"b"},
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}},
			FieldSelector: fields(
				corev1.NodeSelectorRequirement{Key: "provider", Operator: corev1.NodeSelectorOpIn, Values: []string{"aws"}},
				corev1.NodeSelectorRequirement{Key: "region", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"us"}},
				corev1.NodeSelectorRequirement{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"z"}},
			),
		}, nil},
		{"bad key and operator", &policyv1alpha1.ClusterAffinity{FieldSelector: fields(
			corev1.NodeSelectorRequirement{Key: "region", Operator: corev1.NodeSelectorOpIn},
			corev1.NodeSelectorRequirement{Key: "name", Operator: corev1.NodeSelectorOpGt},
		)}, []string{"FieldValueNotSupported aff.fieldSelector.matchExpressions[1].key", "FieldValueNotSupported aff.fieldSelector.matchExpressions[1].operator"}},
		{"bad labelSelector", &policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: "Bogus"}},
		}}, []string{"FieldValueInvalid aff.labelSelector.matchExpressions[0].operator"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ovErrs(ValidateClusterAffinity(tt.aff, field.NewPath("aff"))); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
