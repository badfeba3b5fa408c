package install

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/fleetgate/fleetgate/deploy"
)

// waitPoll is how often Wait looks.
const waitPoll = 2 * time.Second

// Workload is a StatefulSet or Deployment Wait waits for.
type Workload struct {
	Kind, Name string
}

// Workloads are deploy/base's, in the order they become available.
var Workloads = []Workload{
	{"StatefulSet", deploy.EtcdStatefulSet},
	{"Deployment", deploy.APIServerService},
	{"Deployment", deploy.ControllerManagerDeployment},
	{"Deployment", deploy.GatewayDeployment},
}

// Wait waits until every workload in deploy.Namespace has all its replicas updated and ready
// (available, for Deployments), printing a line whenever one's state changes, until timeout.
func Wait(ctx context.Context, kube kubernetes.Interface, workloads []Workload, timeout time.Duration, out io.Writer) error {
	last := map[Workload]string{}
	var pending []string
	err := wait.PollUntilContextTimeout(ctx, waitPoll, timeout, true, func(ctx context.Context) (bool, error) {
		pending = pending[:0]
		for _, w := range workloads {
			state, done, err := workloadState(ctx, kube, w)
			if err != nil {
				state = err.Error()
			}
			if state != last[w] {
				fmt.Fprintf(out, "[wait] %s %s/%s: %s\n", w.Kind, deploy.Namespace, w.Name, state)
				last[w] = state
			}
			if !done {
				pending = append(pending, fmt.Sprintf("%s %s (%s)", w.Kind, w.Name, state))
			}
		}
		return len(pending) == 0, nil
	})
	if wait.Interrupted(err) {
		return fmt.Errorf("not ready after %s (--timeout): %s; see kubectl -n %s get pods, describe and logs", timeout, strings.Join(pending, ", "), deploy.Namespace)
	}
	return err
}

func workloadState(ctx context.Context, kube kubernetes.Interface, w Workload) (string, bool, error) {
	switch w.Kind {
	case "StatefulSet":
		s, err := kube.AppsV1().StatefulSets(deploy.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return "", false, err
		}
		want := replicas(s.Spec.Replicas)
		done := s.Status.ObservedGeneration >= s.Generation && s.Status.UpdatedReplicas == want && s.Status.ReadyReplicas == want
		return fmt.Sprintf("%d/%d ready", s.Status.ReadyReplicas, want), done, nil
	case "Deployment":
		d, err := kube.AppsV1().Deployments(deploy.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return "", false, err
		}
		want := replicas(d.Spec.Replicas)
		done := d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
			d.Status.AvailableReplicas == want && available(d)
		return fmt.Sprintf("%d/%d available", d.Status.AvailableReplicas, want), done, nil
	}
	return "", false, fmt.Errorf("unknown kind %s", w.Kind)
}

func available(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}
