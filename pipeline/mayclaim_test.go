package pipeline

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/request"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

type kinds map[string]string // resource → kind

func (k kinds) KindFor(r schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	if kind, ok := k[r.Resource]; ok {
		return r.GroupVersion().WithKind(kind), nil
	}
	return schema.GroupVersionKind{}, errors.New("no match")
}

func TestMayClaim(t *testing.T) {
	pp := &policyv1alpha1.PropagationPolicy{}
	pp.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment"}}
	l := fakeLister{pps: []*policyv1alpha1.PropagationPolicy{pp}}
	k := kinds{"deployments": "Deployment", "configmaps": "ConfigMap"}
	ri := func(group, resource string) *request.RequestInfo {
		return &request.RequestInfo{IsResourceRequest: true, Verb: "create", APIGroup: group, APIVersion: "v1", Resource: resource, Namespace: "default"}
	}
	tests := []struct {
		name string
		info *request.RequestInfo
		want bool
	}{
		{"selected kind", ri("apps", "deployments"), true},
		{"kind no policy selects", ri("", "configmaps"), false},
		{"unknown kind: the pipeline decides", ri("example.com", "widgets"), true},
		{"policy kinds always", ri("policy.karmada.io", "propagationpolicies"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mayClaim(l, k, tc.info); got != tc.want {
				t.Errorf("mayClaim = %v, want %v", got, tc.want)
			}
		})
	}
}
