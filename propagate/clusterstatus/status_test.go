package clusterstatus

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

func node(name string, ready, unschedulable bool, cpu string) corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{Unschedulable: unschedulable},
		Status: corev1.NodeStatus{
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourcePods: resource.MustParse("110")},
		},
	}
}

func pod(nodeName, cpu, initCPU string) corev1.Pod {
	p := corev1.Pod{Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{
		{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}},
	}}}
	if initCPU != "" {
		p.Spec.InitContainers = []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(initCPU)}}}}
	}
	return p
}

func TestSummarize(t *testing.T) {
	nodes := []corev1.Node{node("a", true, false, "4"), node("b", true, true, "8"), node("c", false, false, "16")}
	pods := []corev1.Pod{pod("a", "500m", ""), pod("a", "250m", "2"), pod("", "1", ""), pod("c", "3", "")}
	ns, rs := summarize(nodes, pods)
	if ns.TotalNum != 3 || ns.ReadyNum != 2 {
		t.Errorf("node summary %+v, want 3 total, 2 ready", ns)
	}
	check := func(what string, l corev1.ResourceList, name corev1.ResourceName, want string) {
		t.Helper()
		q := l[name]
		if q.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("%s %s = %s, want %s", what, name, q.String(), want)
		}
	}
	// Only the ready, schedulable node counts.
	check("allocatable", rs.Allocatable, corev1.ResourceCPU, "4")
	// 500m + max(250m, init 2) = 2.5; the pod on the not-ready node is not counted.
	check("allocated", rs.Allocated, corev1.ResourceCPU, "2500m")
	check("allocated", rs.Allocated, corev1.ResourcePods, "2")
	check("allocating", rs.Allocating, corev1.ResourceCPU, "1")
}

func TestSetReadyKeepsDetailsWhenUnreachable(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &clusterv1alpha1.Cluster{}
	setReady(c, probe{ready: true, status: clusterv1alpha1.ClusterStatus{KubernetesVersion: "v1.37.2"}}, nil, t0)
	if c.Status.KubernetesVersion != "v1.37.2" || c.Status.Conditions[0].Status != metav1.ConditionTrue {
		t.Fatalf("after a good probe: %+v", c.Status)
	}
	setReady(c, probe{ready: false, message: "connection refused"}, nil, t0.Add(time.Minute))
	cond := c.Status.Conditions[0]
	if cond.Status != metav1.ConditionFalse || cond.Message != "connection refused" || !cond.LastTransitionTime.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("after a failed probe: %+v", cond)
	}
	if c.Status.KubernetesVersion != "v1.37.2" {
		t.Errorf("version lost while unreachable")
	}
	// Still down: the transition time stays.
	setReady(c, probe{ready: false, message: "timeout"}, nil, t0.Add(2*time.Minute))
	if !c.Status.Conditions[0].LastTransitionTime.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("transition time moved without a transition")
	}
	// Ready, but a detail could not be read: Ready, and the message says what is missing.
	setReady(c, probe{ready: true}, errors.New("list nodes: forbidden"), t0.Add(3*time.Minute))
	if c.Status.Conditions[0].Status != metav1.ConditionTrue || c.Status.KubernetesVersion != "v1.37.2" {
		t.Errorf("partial probe: %+v", c.Status)
	}
}

func TestNotReadyTaint(t *testing.T) {
	c := &clusterv1alpha1.Cluster{}
	if !setNotReadyTaint(c, false) || len(c.Spec.Taints) != 1 || c.Spec.Taints[0].Key != clusterv1alpha1.TaintClusterNotReady {
		t.Fatalf("taint not added: %+v", c.Spec.Taints)
	}
	if setNotReadyTaint(c, false) {
		t.Error("taint added twice")
	}
	c.Spec.Taints = append(c.Spec.Taints, corev1.Taint{Key: "user", Effect: corev1.TaintEffectNoExecute})
	if !setNotReadyTaint(c, true) || len(c.Spec.Taints) != 1 || c.Spec.Taints[0].Key != "user" {
		t.Errorf("taint not removed, or the user's taint touched: %+v", c.Spec.Taints)
	}
	if setNotReadyTaint(c, true) {
		t.Error("removed a taint that was not there")
	}
}
