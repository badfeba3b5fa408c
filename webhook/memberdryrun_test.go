package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/member"
	"github.com/fleetgate/fleetgate/propagate/plan"
)

// fakeMembers gives each named member its own fake dynamic client.
type fakeMembers map[string]dynamic.Interface

func (f fakeMembers) Dynamic(_ context.Context, cluster string) (dynamic.Interface, error) {
	c, ok := f[cluster]
	if !ok {
		return nil, fmt.Errorf("cluster %s is not known", cluster)
	}
	return c, nil
}

// rejectingMember answers every request with a 422 that names the cluster.
func rejectingMember(cluster string) dynamic.Interface {
	c := fake.NewSimpleDynamicClient(runtime.NewScheme())
	c.PrependReactor("*", "*", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, memberSaysNo(cluster)
	})
	return c
}

func memberSaysNo(cluster string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 422, Reason: metav1.StatusReasonInvalid,
		Message: "member " + cluster + " says no",
	}}
}

func readyCluster(name string) *clusterv1alpha1.Cluster {
	c := &clusterv1alpha1.Cluster{}
	c.Name = name
	c.Status.Conditions = []metav1.Condition{{Type: clusterv1alpha1.ClusterConditionReady, Status: metav1.ConditionTrue}}
	return c
}

func TestMemberDryRunNamesEveryFailingCluster(t *testing.T) {
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON([]byte(cm)); err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{Spec: &policyv1alpha1.PropagationSpec{}, Clusters: map[string]*plan.ClusterPlan{}}
	members := fakeMembers{}
	var want []string
	for i := range 8 {
		rejected := fmt.Sprintf("rejected-%d", i)
		members[rejected] = rejectingMember(rejected)
		p.Clusters[rejected] = &plan.ClusterPlan{Cluster: readyCluster(rejected), Object: obj.DeepCopy()}
		broken := fmt.Sprintf("override-%d", i)
		p.Clusters[broken] = &plan.ClusterPlan{Cluster: readyCluster(broken), Err: errors.New("override failed for " + broken)}
		want = append(want, rejected, broken)
	}
	a := &Attributes{
		Operation: Create,
		GVR:       schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
		Resolved:  obj,
		Plan:      p,
	}
	m := memberDryRun{clients: members, namespaces: member.NewNamespaces(time.Minute), timeout: 10 * time.Second}
	err := m.Validate(context.Background(), a)
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Code != 422 {
		t.Fatalf("Validate = %v, want a 422", err)
	}
	causes := map[string]string{}
	for _, c := range se.ErrStatus.Details.Causes {
		causes[c.Field] = c.Message
	}
	for _, name := range want {
		msg, ok := causes["cluster["+name+"]"]
		if !ok {
			t.Errorf("the 422 does not name cluster %s: %v", name, err)
			continue
		}
		if !strings.Contains(msg, name) {
			t.Errorf("cluster %s: cause %q does not give its own reason", name, msg)
		}
	}
	if len(causes) != len(want) {
		t.Errorf("got %d causes, want %d: %v", len(causes), len(want), causes)
	}
}
