package clusterstatus

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// probe is what one look at a member tells.
type probe struct {
	ready   bool
	message string // why not ready
	status  clusterv1alpha1.ClusterStatus
}

// probeMember asks a member for /readyz, then (only when ready) its version, API enablements, nodes
// and pod requests. A failure after /readyz leaves those fields as they were (partial is false).
func probeMember(ctx context.Context, cfg *rest.Config) (probe, error) {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return probe{}, err
	}
	body, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		msg := strings.TrimSpace(string(body))
		if msg == "" {
			msg = err.Error()
		}
		return probe{ready: false, message: "cluster is not reachable or not ready: " + msg}, nil
	}
	p := probe{ready: true}
	v, err := c.Discovery().ServerVersion()
	if err != nil {
		return p, fmt.Errorf("read version: %w", err)
	}
	p.status.KubernetesVersion = v.GitVersion
	if p.status.APIEnablements, err = apiEnablements(c); err != nil {
		return p, err
	}
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return p, fmt.Errorf("list nodes: %w", err)
	}
	pods, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		ResourceVersion: "0",
		FieldSelector:   fields.AndSelectors(fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)), fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed))).String(),
	})
	if err != nil {
		return p, fmt.Errorf("list pods: %w", err)
	}
	p.status.NodeSummary, p.status.ResourceSummary = summarize(nodes.Items, pods.Items)
	return p, nil
}

func apiEnablements(c kubernetes.Interface) ([]clusterv1alpha1.APIEnablement, error) {
	_, lists, err := c.Discovery().ServerGroupsAndResources()
	if err != nil && len(lists) == 0 {
		return nil, fmt.Errorf("discover APIs: %w", err)
	}
	var out []clusterv1alpha1.APIEnablement
	for _, l := range lists {
		e := clusterv1alpha1.APIEnablement{GroupVersion: l.GroupVersion}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") { // subresources
				continue
			}
			e.Resources = append(e.Resources, clusterv1alpha1.APIResource{Name: r.Name, Kind: r.Kind})
		}
		sort.Slice(e.Resources, func(i, j int) bool { return e.Resources[i].Name < e.Resources[j].Name })
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GroupVersion < out[j].GroupVersion })
	return out, nil
}

// summarize counts nodes and adds up the allocatable of ready, schedulable nodes and the requests of
// the pods bound to them (pending pods count as allocating).
func summarize(nodes []corev1.Node, pods []corev1.Pod) (*clusterv1alpha1.NodeSummary, *clusterv1alpha1.ResourceSummary) {
	ns := &clusterv1alpha1.NodeSummary{TotalNum: int32(len(nodes))}
	rs := &clusterv1alpha1.ResourceSummary{
		Allocatable: corev1.ResourceList{}, Allocated: corev1.ResourceList{}, Allocating: corev1.ResourceList{},
	}
	usable := map[string]bool{}
	for _, n := range nodes {
		if !nodeReady(n) {
			continue
		}
		ns.ReadyNum++
		if n.Spec.Unschedulable {
			continue
		}
		usable[n.Name] = true
		addTo(rs.Allocatable, n.Status.Allocatable)
	}
	for _, p := range pods {
		req := podRequests(p)
		switch {
		case p.Spec.NodeName == "":
			addTo(rs.Allocating, req)
		case usable[p.Spec.NodeName]:
			addTo(rs.Allocated, req)
		}
	}
	return ns, rs
}

func nodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podRequests is the sum of the containers' requests (init containers: the largest of each), plus a
// "pods" count of one, as the scheduler accounts for them.
func podRequests(p corev1.Pod) corev1.ResourceList {
	sum := corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(1, resource.DecimalSI)}
	for _, c := range p.Spec.Containers {
		addTo(sum, c.Resources.Requests)
	}
	for _, c := range p.Spec.InitContainers {
		for name, q := range c.Resources.Requests {
			if cur, ok := sum[name]; !ok || q.Cmp(cur) > 0 {
				sum[name] = q.DeepCopy()
			}
		}
	}
	addTo(sum, p.Spec.Overhead)
	return sum
}

func addTo(dst, src corev1.ResourceList) {
	for name, q := range src {
		cur := dst[name]
		cur.Add(q)
		dst[name] = cur
	}
}
