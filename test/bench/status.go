package main

import (
	"context"
	"fmt"
	"io"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// statusBench measures status aggregation latency: a member copy's status changes (written as the
// member's deployment controller would) until the template's aggregated status on the host says
// so, seen through a watch on the host (no polling). Bare members, so only the bench writes status.
func statusBench(ctx context.Context, o options, out io.Writer) error {
	env, gw, stop, err := twoMembers(ctx, "fleetgate-bench-status-")
	if err != nil {
		return err
	}
	defer stop()
	const ns, n = "bench-status", 20
	if err := setupNamespace(ctx, gw, ns, nil); err != nil {
		return err
	}
	members := make([]kubernetes.Interface, 0, 2)
	for _, m := range env.Members {
		c, err := clientsFor(m.Config) // no client-side rate limit: it would be the latency measured
		if err != nil {
			return err
		}
		members = append(members, c.kube)
	}
	for i := range n {
		if _, err := gw.kube.AppsV1().Deployments(ns).Create(ctx, newDeployment(fmt.Sprintf("s-%d", i)), metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	// Every copy starts with one ready replica in each member.
	for i := range n {
		for _, m := range members {
			if err := setReady(ctx, m, ns, fmt.Sprintf("s-%d", i), 1); err != nil {
				return err
			}
		}
	}
	hc, err := clientsFor(env.Host.Config)
	if err != nil {
		return err
	}
	host := hc.kube
	var lat []time.Duration
	for r := 0; r < o.rounds; r++ {
		ready := int32(r % 2) // member1 alternates between 0 and 1 ready replicas
		for i := range n {
			d, err := measureStatus(ctx, host, members[0], ns, fmt.Sprintf("s-%d", i), ready)
			if err != nil {
				return err
			}
			lat = append(lat, d)
		}
	}
	fmt.Fprintf(out, "\nstatus aggregation, member status change → template status on the host (%d samples, 2 members): p50 %s p99 %s (goal p99 ≤ 500ms)\n",
		len(lat), round(pct(lat, 50)), round(pct(lat, 99)))
	return nil
}

// measureStatus sets member's readyReplicas of ns/name and waits until the host's template says the
// sum (the other member holds 1).
func measureStatus(ctx context.Context, host, member kubernetes.Interface, ns, name string, ready int32) (time.Duration, error) {
	cur, err := host.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	want := ready + 1
	if cur.Status.ReadyReplicas == want {
		return 0, fmt.Errorf("%s/%s already has %d ready replicas", ns, name, want)
	}
	w, err := host.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: cur.ResourceVersion})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	if err := setReady(ctx, member, ns, name, ready); err != nil {
		return 0, err
	}
	began := time.Now() // the member has written the status: from here on it is fleetgate's time
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, fmt.Errorf("watch of %s/%s ended", ns, name)
			}
			if d, isDep := ev.Object.(*appsv1.Deployment); isDep && ev.Type == watch.Modified && d.Status.ReadyReplicas == want {
				return time.Since(began), nil
			}
		case <-timeout:
			return 0, fmt.Errorf("%s/%s: template status did not reach %d ready replicas within 30s", ns, name, want)
		}
	}
}

// setReady writes a member Deployment's status as its controller would: generation observed,
// ready replicas as given.
func setReady(ctx context.Context, member kubernetes.Interface, ns, name string, ready int32) error {
	var last error
	for attempt := 0; attempt < 50; attempt++ {
		d, err := member.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			replicas := int32(1)
			if d.Spec.Replicas != nil {
				replicas = *d.Spec.Replicas
			}
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas,
				ReadyReplicas: ready, AvailableReplicas: ready, UnavailableReplicas: replicas - ready}
			if _, err = member.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err == nil {
				return nil
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond) // the copy may not be there yet, or a write raced: retry
	}
	return fmt.Errorf("set status of %s/%s in a member: %w", ns, name, last)
}
