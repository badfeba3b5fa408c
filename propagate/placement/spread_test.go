package placement

import (
	"errors"
	"strings"
	"testing"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
)

func TestSpreadConstraints(t *testing.T) {
	fleet := clusters(
		newCluster("eu-a", inRegion("eu"), byProvider("aws"), withLabels("team", "x")),
		newCluster("eu-b", inRegion("eu"), byProvider("gcp"), withLabels("team", "y")),
		newCluster("us-a", inRegion("us"), byProvider("aws"), withLabels("team", "x")),
		newCluster("us-b", inRegion("us"), byProvider("aws")),
		newCluster("ap-a", inRegion("ap"), byProvider("gcp")),
		newCluster("none"),
	)
	byCluster := func(min, max int) policyv1alpha1.SpreadConstraint {
		return policyv1alpha1.SpreadConstraint{SpreadByField: policyv1alpha1.SpreadByFieldCluster, MinGroups: min, MaxGroups: max}
	}
	byRegion := func(min, max int) policyv1alpha1.SpreadConstraint {
		return policyv1alpha1.SpreadConstraint{SpreadByField: policyv1alpha1.SpreadByFieldRegion, MinGroups: min, MaxGroups: max}
	}
	tests := []struct {
		name        string
		constraints []policyv1alpha1.SpreadConstraint
		previous    []workv1alpha2.TargetCluster
		names       []string // restrict the fleet
		want        string
		errSub      []string
		excluded    map[string]string
	}{
		{name: "defaults (cluster, minGroups 1) change nothing", constraints: []policyv1alpha1.SpreadConstraint{{}}, want: "ap-a:1 eu-a:1 eu-b:1 none:1 us-a:1 us-b:1"},
		{
			name: "cluster maxGroups keeps the first clusters by name", constraints: []policyv1alpha1.SpreadConstraint{byCluster(1, 2)},
			want: "ap-a:1 eu-a:1", excluded: map[string]string{"eu-b": "not among the 2 cluster(s) chosen by spreadConstraints[0] (spreadByField cluster, minGroups 1, maxGroups 2)"},
		},
		{
			name: "cluster maxGroups prefers clusters already placed", constraints: []policyv1alpha1.SpreadConstraint{byCluster(1, 2)},
			previous: targets("us-b", 1, "none", 1), want: "none:1 us-b:1",
		},
		{
			name: "cluster minGroups not met", constraints: []policyv1alpha1.SpreadConstraint{byCluster(3, 0)}, names: []string{"eu-a", "us-a"},
			errSub: []string{"spreadConstraints[0] (spreadByField cluster, minGroups 3): only 2 cluster(s) available (eu-a, us-a)"},
		},
		{
			name: "region maxGroups keeps the largest region and drops clusters without a region", constraints: []policyv1alpha1.SpreadConstraint{byRegion(1, 1), byCluster(1, 0)},
			want: "eu-a:1 eu-b:1", excluded: map[string]string{
				"none": "has no region, required by spreadConstraints[0]",
				"ap-a": `region "ap" is not among the 1 group(s) chosen by spreadConstraints[0]`,
			},
		},
		{
			name: "region minGroups not met", constraints: []policyv1alpha1.SpreadConstraint{byRegion(2, 0), byCluster(1, 0)}, names: []string{"eu-a", "eu-b", "none"},
			errSub: []string{"spreadConstraints[0] (spreadByField region, minGroups 2): only 1 region group(s) available (eu: eu-a, eu-b)", "none: has no region"},
		},
		{
			name: "region and cluster: clusters taken round-robin over the regions", constraints: []policyv1alpha1.SpreadConstraint{byRegion(2, 2), byCluster(2, 2)},
			want: "eu-a:1 us-a:1",
		},
		{
			name: "cluster maxGroups too small for the regions' minGroups", constraints: []policyv1alpha1.SpreadConstraint{byRegion(3, 0), byCluster(1, 2)},
			errSub: []string{"keeps 2 cluster(s), which span only 2 region group(s); spreadConstraints[0] (spreadByField region, minGroups 3) needs 3"},
		},
		{
			name: "provider", constraints: []policyv1alpha1.SpreadConstraint{{SpreadByField: policyv1alpha1.SpreadByFieldProvider, MinGroups: 1, MaxGroups: 1}, byCluster(1, 0)},
			want: "eu-a:1 us-a:1 us-b:1",
		},
		{
			name: "spreadByLabel", constraints: []policyv1alpha1.SpreadConstraint{{SpreadByLabel: "team", MinGroups: 2}},
			want: "eu-a:1 eu-b:1 us-a:1", excluded: map[string]string{"none": "has no label team"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := fleet
			if tt.names != nil {
				in = nil
				for _, c := range fleet {
					for _, n := range tt.names {
						if c.Name == n {
							in = append(in, c)
						}
					}
				}
			}
			p := &policyv1alpha1.Placement{SpreadConstraints: tt.constraints}
			r, err := Decide(Input{Placement: p, Clusters: in, Replicas: 1, Previous: tt.previous})
			if len(tt.errSub) > 0 {
				var serr *Error
				if !errors.As(err, &serr) || serr.Reason != workv1alpha2.BindingReasonUnschedulable {
					t.Fatalf("err = %v, want an Unschedulable *Error", err)
				}
				for _, sub := range tt.errSub {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error %q does not contain %q", err, sub)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if got := render(r.Targets); got != tt.want {
				t.Errorf("targets = %q, want %q", got, tt.want)
			}
			checkExcluded(t, r.Excluded, tt.excluded)
		})
	}
}
