package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/localenv"
)

// pauseFor is how long a paused member apiserver stays stopped: longer than a probe (1s timeout)
// plus the 3s failure threshold plus a probe period, so the gateway marks it NotReady.
const pauseFor = 7 * time.Second

// fault is one disruption; run returns what it did, for the loop's log.
type fault struct {
	name string
	run  func(ctx context.Context) (string, error)
}

// faultNames are the faults of a loop, in the order before shuffling.
var faultNames = []string{"pause", "restart", "kill-gateway", "edit-copy", "delete-copy", "kill-agent"}

// faultPlan is one of each fault named in only (all when empty), aimed and ordered by rng; rng is
// used the same way whatever only says, so a seed means the same loop with fewer faults.
func faultPlan(rng *rand.Rand, env *localenv.Env, c *clients, ns string, only []string) []fault {
	member := func() *localenv.Cluster { return env.Member(members[rng.IntN(len(members))]) }
	paused, restarted := member(), member()
	holdRestart := time.Duration(1000+rng.IntN(2000)) * time.Millisecond
	holdGateway := time.Duration(rng.IntN(2000)) * time.Millisecond
	// Hand edits hit two different (member, steady template) pairs.
	s := steady[rng.IntN(len(steady))]
	edit, editIn := objKey{s.kind, ns, s.name}, members[rng.IntN(len(members))]
	del, delIn := edit, editIn
	for del == edit && delIn == editIn {
		s := steady[rng.IntN(len(steady))]
		del, delIn = objKey{s.kind, ns, s.name}, members[rng.IntN(len(members))]
	}
	fs := []fault{
		{"pause", func(ctx context.Context) (string, error) {
			return observed(ctx, c, paused.Name, func() (string, error) { return pauseAPIServer(ctx, paused) })
		}},
		{"restart", func(ctx context.Context) (string, error) {
			return observed(ctx, c, restarted.Name, func() (string, error) { return restartAPIServer(ctx, restarted, holdRestart) })
		}},
		{"kill-gateway", func(ctx context.Context) (string, error) { return restartGateway(ctx, env, holdGateway) }},
		{"edit-copy", func(ctx context.Context) (string, error) { return editCopy(ctx, c, editIn, edit) }},
		{"delete-copy", func(ctx context.Context) (string, error) { return deleteCopy(ctx, c, delIn, del) }},
		{"kill-agent", func(ctx context.Context) (string, error) {
			for _, name := range members {
				if m := env.Member(name); m.Pull() {
					return observed(ctx, c, m.Name, func() (string, error) { return restartAgent(ctx, m, holdRestart) })
				}
			}
			return "no member in Pull mode: no agent to kill", nil
		}},
	}
	rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
	if len(only) == 0 {
		return fs
	}
	return slices.DeleteFunc(fs, func(f fault) bool { return !slices.Contains(only, f.name) })
}

// pauseAPIServer freezes a member apiserver with SIGSTOP for pauseFor, then SIGCONT: its
// connections stay open and hang, as with a stuck cluster.
func pauseAPIServer(ctx context.Context, m *localenv.Cluster) (string, error) {
	if err := m.SignalAPIServer(syscall.SIGSTOP); err != nil {
		return "", err
	}
	t := time.NewTimer(pauseFor)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	if err := m.SignalAPIServer(syscall.SIGCONT); err != nil {
		return "", err
	}
	return fmt.Sprintf("paused %s's apiserver for %s", m.Name, pauseFor), nil
}

// restartAPIServer kills a member apiserver, keeps it down for hold and starts it again.
func restartAPIServer(ctx context.Context, m *localenv.Cluster, hold time.Duration) (string, error) {
	if err := m.StopAPIServer(ctx); err != nil {
		return "", err
	}
	sleep(ctx, hold)
	began := time.Now()
	if err := m.StartAPIServer(context.WithoutCancel(ctx)); err != nil {
		return "", err
	}
	return fmt.Sprintf("killed %s's apiserver, down %s, ready again in %s", m.Name, hold.Round(time.Millisecond), time.Since(began).Round(100*time.Millisecond)), nil
}

// restartAgent kills a Pull member's agent (SIGKILL), keeps it down for hold and starts it again.
func restartAgent(ctx context.Context, m *localenv.Cluster, hold time.Duration) (string, error) {
	if err := m.StopAgent(); err != nil {
		return "", err
	}
	sleep(ctx, hold)
	if err := m.StartAgent(); err != nil {
		return "", err
	}
	return fmt.Sprintf("killed %s's agent, down %s", m.Name, hold.Round(time.Millisecond)), nil
}

// restartGateway kills the gateway with SIGKILL, keeps it down for hold and starts it again with
// the same flags.
func restartGateway(ctx context.Context, env *localenv.Env, hold time.Duration) (string, error) {
	if err := env.KillGateway(); err != nil {
		return "", err
	}
	sleep(ctx, hold)
	began := time.Now()
	if err := env.StartGateway(context.WithoutCancel(ctx)); err != nil {
		return "", err
	}
	return fmt.Sprintf("killed the gateway (SIGKILL), down %s, ready again in %s", hold.Round(time.Millisecond), time.Since(began).Round(100*time.Millisecond)), nil
}

// observed runs a fault on cluster and adds to its description whether, and when, the gateway
// marked the cluster NotReady meanwhile (informative: a fault the gateway never saw still counts).
func observed(ctx context.Context, c *clients, cluster string, run func() (string, error)) (string, error) {
	began := time.Now()
	octx, cancel := context.WithCancel(ctx)
	seen := make(chan time.Duration, 1)
	go func() {
		defer close(seen)
		for octx.Err() == nil {
			u, err := c.hostDyn.Resource(clustersGVR).Get(octx, cluster, metav1.GetOptions{})
			if err == nil {
				cl := &clusterv1alpha1.Cluster{}
				if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, cl) == nil && !clusterv1alpha1.IsReady(cl) {
					seen <- time.Since(began)
					return
				}
			}
			sleep(octx, 200*time.Millisecond)
		}
	}()
	what, err := run()
	cancel()
	if d, ok := <-seen; ok {
		return fmt.Sprintf("%s; the gateway marked it NotReady after %s", what, d.Round(100*time.Millisecond)), err
	}
	return what + "; the gateway did not mark it NotReady meanwhile", err
}

var clustersGVR = clusterv1alpha1.GroupVersion.WithResource("clusters")

// editCopy changes, straight in a member, a field of a copy that its template dictates (a
// ConfigMap's data.gen, a Deployment's image), as a person with kubectl edit would.
func editCopy(ctx context.Context, c *clients, cluster string, key objKey) (string, error) {
	ri := c.memberDyn[cluster].Resource(kinds[key.kind]).Namespace(key.namespace)
	var field string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := ri.Get(ctx, key.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch key.kind {
		case "ConfigMap":
			field = "data.gen"
			err = unstructured.SetNestedField(u.Object, "edited by hand", "data", "gen")
		default:
			field = "spec.template.spec.containers[0].image"
			err = setImage(u, "registry.example/edited-by-hand:0")
		}
		if err != nil {
			return err
		}
		_, err = ri.Update(ctx, u, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("edit of %s in %s skipped: no copy there", key, cluster), nil
	}
	if err != nil {
		return "", fmt.Errorf("edit %s in %s: %w", key, cluster, err)
	}
	return fmt.Sprintf("edited %s in %s by hand (%s)", key, cluster, field), nil
}

func setImage(u *unstructured.Unstructured, image string) error {
	cs, _, err := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	if err != nil || len(cs) == 0 {
		return fmt.Errorf("no containers: %v", err)
	}
	cs[0].(map[string]any)["image"] = image
	return unstructured.SetNestedSlice(u.Object, cs, "spec", "template", "spec", "containers")
}

// deleteCopy deletes a copy straight in a member.
func deleteCopy(ctx context.Context, c *clients, cluster string, key objKey) (string, error) {
	err := c.memberDyn[cluster].Resource(kinds[key.kind]).Namespace(key.namespace).Delete(ctx, key.name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("delete of %s in %s skipped: no copy there", key, cluster), nil
	}
	if err != nil {
		return "", fmt.Errorf("delete %s in %s: %w", key, cluster, err)
	}
	return fmt.Sprintf("deleted %s in %s by hand", key, cluster), nil
}

// sleep waits d or until ctx ends (holding a fault, not checking a condition).
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
