package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	"github.com/fleetgate/fleetgate/propagate/claim"
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

// propagatedNamespaces is the reconciler's answer: these host namespaces go to every member.
type propagatedNamespaces map[string]bool

func (p propagatedNamespaces) NamespacePropagated(name string) bool { return p[name] }

// memberWithoutNamespaces answers a write into any namespace it has not had created with the
// NamespaceLifecycle admission's 404, as kube-apiserver does, and records the namespaces created.
func memberWithoutNamespaces() (dynamic.Interface, *[]string) {
	c := fake.NewSimpleDynamicClient(runtime.NewScheme())
	var created []string
	c.PrependReactor("create", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
		obj := a.(clienttesting.CreateAction).GetObject().(*unstructured.Unstructured)
		created = append(created, obj.GetName())
		return true, obj, nil
	})
	c.PrependReactor("patch", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if !slices.Contains(created, a.GetNamespace()) {
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, a.GetNamespace())
		}
		obj := &unstructured.Unstructured{}
		_ = obj.UnmarshalJSON(a.(clienttesting.PatchAction).GetPatch())
		return true, obj, nil
	})
	return c, &created
}

// TestMemberDryRunCreatesNoNamespace: checking a write into a namespace a member lacks creates
// that namespace there only when the host namespace goes to every member by itself; otherwise
// the member's check is skipped (nothing can be in the way there), never turned into a rejection.
func TestMemberDryRunCreatesNoNamespace(t *testing.T) {
	for _, tc := range []struct {
		name       string
		propagated bool
		created    []string
	}{
		{"namespace not propagated", false, nil},
		{"namespace propagated", true, []string{"default"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := obj.UnmarshalJSON([]byte(cm)); err != nil {
				t.Fatal(err)
			}
			mem, created := memberWithoutNamespaces()
			a := &Attributes{
				Operation: Create,
				GVR:       schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
				Resolved:  obj,
				Plan: &plan.Plan{Spec: &policyv1alpha1.PropagationSpec{}, Claim: claim.Decision{Ref: claim.Ref{Namespace: "default", Name: "cms"}}, Clusters: map[string]*plan.ClusterPlan{
					"m1": {Cluster: readyCluster("m1"), Object: obj.DeepCopy()},
				}},
			}
			m := memberDryRun{clients: fakeMembers{"m1": mem}, propagated: propagatedNamespaces{obj.GetNamespace(): tc.propagated},
				namespaces: member.NewNamespaces(time.Minute), timeout: 10 * time.Second}
			if err := m.Validate(context.Background(), a); err != nil {
				t.Fatalf("Validate = %v, want no rejection", err)
			}
			if !slices.Equal(*created, tc.created) {
				t.Errorf("namespaces created in the member: %v, want %v", *created, tc.created)
			}
			if !a.Checked["m1"] {
				t.Errorf("m1 not marked checked (nothing can be in the way): %v", a.Checked)
			}
		})
	}
}

// memberAnswering answers the dry-run apply with the object, at resourceVersion rv ("" as when
// nothing existed), and a read with existing (nil: 404); it fails the test on any write that is
// not a dry run.
func memberAnswering(t *testing.T, rv string, existing *unstructured.Unstructured) dynamic.Interface {
	c := fake.NewSimpleDynamicClient(runtime.NewScheme())
	c.PrependReactor("patch", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.PatchActionImpl)
		if !slices.Contains(p.PatchOptions.DryRun, metav1.DryRunAll) {
			t.Errorf("member dry-run wrote for real: %v", a)
		}
		obj := &unstructured.Unstructured{}
		_ = obj.UnmarshalJSON(p.GetPatch())
		obj.SetResourceVersion(rv)
		return true, obj, nil
	})
	c.PrependReactor("get", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if existing == nil {
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, "cm")
		}
		return true, existing.DeepCopy(), nil
	})
	c.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		t.Errorf("member dry-run created something: %v", a)
		return true, nil, nil
	})
	return c
}

// TestMemberDryRunReadyClusters: with every target Ready, each is asked (dry run only); a member
// where nothing exists is checked, one holding an unmanaged object of that name is not a
// rejection but not checked either (dispatch must look again), one holding fleetgate's copy is
// checked; a target that is not Ready is not asked, an unreachable one is skipped.
func TestMemberDryRunReadyClusters(t *testing.T) {
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON([]byte(cm)); err != nil {
		t.Fatal(err)
	}
	unmanaged := obj.DeepCopy()
	unmanaged.SetResourceVersion("5")
	managed := unmanaged.DeepCopy()
	managed.SetLabels(map[string]string{member.LabelManaged: "true"})
	notReady := readyCluster("down")
	notReady.Status.Conditions[0].Status = metav1.ConditionFalse
	p := &plan.Plan{Spec: &policyv1alpha1.PropagationSpec{}, Claim: claim.Decision{Ref: claim.Ref{Namespace: "default", Name: "cms"}}, Clusters: map[string]*plan.ClusterPlan{
		"empty":       {Cluster: readyCluster("empty"), Object: obj.DeepCopy()},
		"unmanaged":   {Cluster: readyCluster("unmanaged"), Object: obj.DeepCopy()},
		"managed":     {Cluster: readyCluster("managed"), Object: obj.DeepCopy()},
		"down":        {Cluster: notReady, Object: obj.DeepCopy()},
		"unreachable": {Cluster: readyCluster("unreachable"), Object: obj.DeepCopy()},
	}}
	members := fakeMembers{
		"empty":     memberAnswering(t, "", nil),
		"unmanaged": memberAnswering(t, "5", unmanaged),
		"managed":   memberAnswering(t, "5", managed),
		"down":      rejectingMember("down"), // would reject: it must not be asked
		// "unreachable" has no client: Dynamic fails as for a member that cannot be reached
	}
	a := &Attributes{Operation: Create, GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Resolved: obj, Plan: p}
	m := memberDryRun{clients: members, namespaces: member.NewNamespaces(time.Minute), timeout: 10 * time.Second}
	if err := m.Validate(context.Background(), a); err != nil {
		t.Fatalf("Validate = %v, want no rejection", err)
	}
	want := map[string]bool{"empty": true, "unmanaged": false, "managed": true, "unreachable": false}
	if len(a.Checked) != len(want) {
		t.Errorf("checked %v, want %v", a.Checked, want)
	}
	for name, ok := range want {
		if got, asked := a.Checked[name]; !asked || got != ok {
			t.Errorf("cluster %s: checked %v (asked %v), want %v", name, got, asked, ok)
		}
	}
}
