package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// Names of the gateway's high-availability objects in the host (ha package).
const (
	haNamespace        = "fleetgate-system"
	leaderLease        = "fleetgate-controllers"
	replicaLeasePrefix = "fleetgate-gateway-"
	peerURLAnnotation  = "fleetgate.io/peer-url"
	// handoverLimit is the bound: after a SIGKILL of the leader, the other replica
	// reconciles within it.
	handoverLimit = 15 * time.Second
	// burstObjects are written through both replicas, the leader killed midway.
	burstObjects = 500
)

// replicaClients are the gateway clients of replicas 0 and 1.
func replicaClients(t *testing.T) [2]kubernetes.Interface {
	var out [2]kubernetes.Interface
	for i := range out {
		_, url := framework.Env.GatewayReplica(i)
		cfg := rest.CopyConfig(framework.Env.GatewayConfig)
		cfg.Host, cfg.QPS, cfg.Burst, cfg.Timeout = url, 100, 200, 10*time.Second
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		out[i] = kubernetes.NewForConfigOrDie(cfg)
	}
	return out
}

// leader returns the index (0 or 1) of the replica that holds the controllers' Lease, from the
// host: the Lease's holder and that replica's own Lease with its URL.
func leader(ctx context.Context, host kubernetes.Interface) (int, error) {
	l, err := host.CoordinationV1().Leases(haNamespace).Get(ctx, leaderLease, metav1.GetOptions{})
	if err != nil {
		return -1, err
	}
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
		return -1, errors.New("the controllers' Lease has no holder")
	}
	id := *l.Spec.HolderIdentity
	r, err := host.CoordinationV1().Leases(haNamespace).Get(ctx, replicaLeasePrefix+id, metav1.GetOptions{})
	if err != nil {
		return -1, fmt.Errorf("leader %s: %w", id, err)
	}
	for i := range 2 {
		if pid, url := framework.Env.GatewayReplica(i); pid != 0 && r.Annotations[peerURLAnnotation] == url {
			return i, nil
		}
	}
	return -1, fmt.Errorf("leader %s at %s is none of the running replicas", id, r.Annotations[peerURLAnnotation])
}

// waitLeader waits until replica want leads.
func waitLeader(t *testing.T, c *clients, want int, within time.Duration) {
	t.Helper()
	framework.Eventually(t, within, func() error {
		got, err := leader(t.Context(), c.host)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("replica %d leads, want %d", got, want)
		}
		return nil
	})
}

// createOrUpdate writes cm through gw, as `kubectl apply` would whatever the state (an update
// racing the reconciler's status write is tried again on the conflict).
func createOrUpdate(ctx context.Context, gw kubernetes.Interface, cm *corev1.ConfigMap) error {
	_, err := gw.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := gw.CoreV1().ConfigMaps(cm.Namespace).Get(ctx, cm.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Data = cm.Data
		_, err = gw.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// onEveryMember waits until every member holds a copy of ConfigMap ns/name with data value.
func onEveryMember(ctx context.Context, c *clients, ns, name, value string) error {
	for _, m := range members {
		got, err := c.memberDyn[m].Resource(kinds["ConfigMap"]).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		if v, _, _ := unstructured.NestedString(got.Object, "data", "v"); v != value {
			return fmt.Errorf("%s: ConfigMap %s/%s has v=%q, want %q", m, ns, name, v, value)
		}
	}
	return nil
}

// TestHighAvailability runs a second gateway replica against the same host and checks: requests
// through either replica reach the Push and the Pull member (whose agent is connected to replica 0
// only); a graceful restart of the leader hands over at once; after `kill -9` of the leader the
// other reconciles within handoverLimit; and a burst of burstObjects writes spread over both, the
// leader killed midway, ends with the chaos test's comparison clean.
func TestHighAvailability(t *testing.T) {
	env, ctx := framework.Env, t.Context()
	c := newClients(t, env)
	if _, err := env.StartGatewayReplica(ctx, 1, gatewayArgs...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Leave replica 0 running for whatever runs next, replica 1 stopped.
		if pid, _ := env.GatewayReplica(0); pid == 0 {
			if err := env.StartGateway(context.Background()); err != nil {
				t.Errorf("restart replica 0: %v", err)
			}
		}
		if pid, _ := env.GatewayReplica(1); pid != 0 {
			_ = env.KillGatewayReplica(1)
		}
	})
	gw := replicaClients(t)
	// Replica 0 ran alone: it leads, and member2's agent is connected to it.
	waitLeader(t, c, 0, handoverLimit)

	const ns = "ha-burst"
	if _, err := gw[1].CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Apply(t, env.GatewayKubeconfig, fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: ha, namespace: %s}
spec:
  resourceSelectors:
  - {apiVersion: v1, kind: ConfigMap}
  placement:
    clusterAffinity: {clusterNames: [%s, %s]}
`, ns, members[0], members[1]))

	// Both replicas serve the members: the non-leader reaches member2 through replica 0's tunnel.
	checkMembersThrough := func(i int) {
		t.Helper()
		_, url := env.GatewayReplica(i)
		cfg := rest.CopyConfig(env.GatewayConfig)
		cfg.Host = url
		hc, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range members {
			framework.Eventually(t, 30*time.Second, func() error {
				resp, err := hc.Get(url + "/clusters/" + m + "/api/v1/namespaces/kube-system")
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("replica %d: %s through /clusters/%s: %s", i, m, m, resp.Status)
				}
				return nil
			})
		}
	}
	// A write through replica i reaches both members: replica 1 hands it to the leader.
	writeThrough := func(i int, name string) {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string]string{"v": name}}
		if err := createOrUpdate(ctx, gw[i], cm); err != nil {
			t.Fatalf("write %s through replica %d: %v", name, i, err)
		}
		framework.Eventually(t, 30*time.Second, func() error { return onEveryMember(ctx, c, ns, name, name) })
	}
	checkMembersThrough(0)
	checkMembersThrough(1)
	writeThrough(1, "via-follower")

	// A graceful stop of the leader releases the Lease: replica 1 leads at once, and replica 0
	// comes back as a follower that holds member2's tunnel again (its agent reconnects to it).
	if err := env.StopGateway(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	waitLeader(t, c, 1, handoverLimit)
	t.Logf("graceful handover: replica 1 leads %s after replica 0 was stopped", time.Since(stopped).Round(100*time.Millisecond))
	if err := env.StartGateway(ctx); err != nil {
		t.Fatal(err)
	}
	if err := framework.WaitClustersReady(ctx, env, members...); err != nil {
		t.Fatal(err)
	}
	checkMembersThrough(0)
	checkMembersThrough(1)
	// The leader (1) writes member2 through the tunnel on replica 0.
	writeThrough(0, "via-tunnel-holder")

	// The burst: burstObjects ConfigMaps, written by 8 writers alternating between the replicas;
	// once half are written, kill -9 the leader (replica 1). A write that fails because its
	// replica is gone is written again through the other, as a Service would route it.
	var (
		written atomic.Int64
		killed  atomic.Bool
		killAt  time.Time
		killMu  sync.Mutex
		wg      sync.WaitGroup
		errs    = make(chan error, burstObjects+2)
		next    atomic.Int64
	)
	// handover is how long after the kill the survivor had a template written after the kill on
	// every member (0: not within handoverLimit).
	var handover atomic.Int64
	probed := make(chan struct{})
	kill := func() {
		killMu.Lock()
		defer killMu.Unlock()
		if killed.Load() {
			return
		}
		if err := env.KillGatewayReplica(1); err != nil {
			errs <- err
		}
		killAt = time.Now()
		killed.Store(true)
		go func() {
			defer close(probed)
			const probe = "after-kill"
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: probe, Namespace: ns}, Data: map[string]string{"v": probe}}
			if err := createOrUpdate(ctx, gw[0], cm); err != nil {
				errs <- fmt.Errorf("write %s: %w", probe, err)
				return
			}
			for time.Since(killAt) < handoverLimit {
				if onEveryMember(ctx, c, ns, probe, probe) == nil {
					handover.Store(int64(time.Since(killAt)))
					return
				}
				sleep(ctx, 100*time.Millisecond)
			}
		}()
	}
	for w := range 8 {
		wg.Go(func() {
			for {
				n := next.Add(1) - 1
				if n >= burstObjects {
					return
				}
				name := fmt.Sprintf("burst-%03d", n)
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string]string{"v": name}}
				via := (int(n) + w) % 2
				if killed.Load() {
					via = 0
				}
				err := createOrUpdate(ctx, gw[via], cm)
				if err != nil && via == 1 {
					err = createOrUpdate(ctx, gw[0], cm)
				}
				if err != nil {
					errs <- fmt.Errorf("write %s: %w", name, err)
					continue
				}
				if written.Add(1) == burstObjects/2 {
					kill()
				}
			}
		})
	}
	wg.Wait()
	if killed.Load() {
		<-probed
	}
	close(errs)
	var failed []string
	for err := range errs {
		failed = append(failed, err.Error())
	}
	if len(failed) > 0 {
		t.Fatalf("%d writes failed:\n%s", len(failed), strings.Join(failed, "\n"))
	}
	if !killed.Load() {
		t.Fatal("the leader was never killed")
	}
	// Replica 0 took over and reconciled a template written after the kill within handoverLimit.
	if handover.Load() == 0 {
		t.Fatalf("kill -9 of the leader: a template written through replica 0 after the kill was not on every member within %s", handoverLimit)
	}
	t.Logf("kill -9 of the leader: replica 0 had a template written after the kill on every member %s after the kill",
		time.Duration(handover.Load()).Round(100*time.Millisecond))
	waitLeader(t, c, 0, time.Second)

	// Every object on every target, no orphan, no divergent copy.
	namespaces := []string{ns}
	list, err := c.host.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range list.Items {
		if strings.HasPrefix(n.Name, "chaos-") {
			namespaces = append(namespaces, n.Name)
		}
	}
	r := &runner{t: t, c: c, namespaces: namespaces}
	began := time.Now()
	var ds []divergence
	for {
		_, ds = r.checkOnce(ctx)
		if len(ds) == 0 || time.Since(began) > convergeTimeout || ctx.Err() != nil {
			break
		}
		sleep(ctx, time.Second)
	}
	if len(ds) > 0 {
		t.Fatalf("%d divergences %s after the burst:\n%s", len(ds), time.Since(began).Round(time.Second), formatDivergences(ds))
	}
	t.Logf("burst of %d writes over both replicas, leader killed after %d: converged %s after the last write, 0 divergences",
		burstObjects, burstObjects/2, time.Since(began).Round(100*time.Millisecond))
}
