package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetgate/fleetgate/apis/client"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/member"
)

// countApplied returns how many bindings of ns are FullyApplied.
func (e *testEnv) countApplied(ns string) (int, error) {
	l, err := e.host.Resource(rbGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range l.Items {
		b, err := client.FromUnstructured[workv1alpha2.ResourceBinding](&l.Items[i])
		if err != nil {
			return 0, err
		}
		if meta.IsStatusConditionTrue(b.Status.Conditions, workv1alpha2.FullyApplied) {
			n++
		}
	}
	return n, nil
}

// countCopies returns how many managed ConfigMaps cluster holds in ns.
func (e *testEnv) countCopies(cluster, ns string) (int, error) {
	l, err := e.members[cluster].Resource(configMaps).Namespace(ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: member.LabelManaged + "=true"})
	if err != nil {
		return 0, err
	}
	return len(l.Items), nil
}

// TestRestartThroughput measures a reconciler started with N templates (default 200,
// FLEETGATE_RECONCILE_N) written while none ran: cold (nothing propagated yet), then a warm
// restart (everything in place), which must write nothing but the sentinel created after it.
func TestRestartThroughput(t *testing.T) {
	e := sharedEnv(t)
	n := 200
	if v, err := strconv.Atoi(os.Getenv("FLEETGATE_RECONCILE_N")); err == nil && v > 0 {
		n = v
	}
	const ns = "bulk"
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns))
	for i := range n {
		e.createConfigMap(t, ns, fmt.Sprintf("cm-%04d", i), map[string]string{"i": strconv.Itoa(i)})
	}
	members0, host0 := e.memberWrites.Load(), e.hostWrites.Load()
	began := time.Now()
	stop := e.startController(t)
	waitAll := func(want int) {
		t.Cleanup(func() {
			if t.Failed() {
				e.explainMissing(t, ns)
			}
		})
		// Polling lists thousands of objects: not too often, bindings first.
		eventuallyEvery(t, 2*time.Minute, 250*time.Millisecond, func() error {
			if got, err := e.countApplied(ns); err != nil || got != want {
				return fmt.Errorf("%d bindings FullyApplied (%v), want %d", got, err, want)
			}
			for _, m := range []string{"member1", "member2"} {
				if got, err := e.countCopies(m, ns); err != nil || got != want {
					return fmt.Errorf("%s holds %d copies (%v), want %d", m, got, err, want)
				}
			}
			return nil
		})
	}
	waitAll(n)
	cold := time.Since(began)
	t.Logf("cold start: %d templates to 2 members and bound in %s (%.0f templates/s); %d member writes, %d host writes",
		n, cold.Round(time.Millisecond), float64(n)/cold.Seconds(), e.memberWrites.Load()-members0, e.hostWrites.Load()-host0)
	stop()

	members0, host0 = e.memberWrites.Load(), e.hostWrites.Load()
	memberLog0 := int64(len(e.memberLog.since(0)))
	began = time.Now()
	e.startController(t)
	e.createConfigMap(t, ns, "sentinel", map[string]string{"i": "s"})
	waitAll(n + 1)
	warm := time.Since(began)
	memberWrites, hostWrites := e.memberWrites.Load()-members0, e.hostWrites.Load()-host0
	t.Logf("warm restart: %d templates checked and a new one propagated in %s; %d member writes, %d host writes",
		n, warm.Round(time.Millisecond), memberWrites, hostWrites)
	// The sentinel: one apply per member; claim patch, binding create and status, and events.
	// Only this test's namespace counts: the restart also finishes what earlier tests of the
	// package left half done (a member write their controller's stop cancelled), which is its job.
	var own, others []string
	for _, w := range e.memberLog.since(memberLog0) {
		if strings.Contains(w, "/namespaces/"+ns+"/") {
			own = append(own, w)
		} else {
			others = append(others, w)
		}
	}
	if len(others) > 0 {
		t.Logf("warm restart also wrote for earlier tests' templates:\n%s", strings.Join(others, "\n"))
	}
	// Every write of this namespace must be the sentinel's: the unchanged templates cost none, and
	// the sentinel one apply per member. (It used to get a second, identical one now and then: the
	// restart's sweep, listing before the first apply finished, took the copy for missing.)
	perMember := map[string]int{}
	for _, w := range own {
		if !strings.Contains(w, "/configmaps/sentinel") {
			t.Errorf("warm restart wrote to members for an unchanged template of %s:\n%s", ns, strings.Join(own, "\n"))
			break
		}
		cluster, _, _ := strings.Cut(w, ":")
		perMember[cluster]++
	}
	for _, m := range []string{"member1", "member2"} {
		switch n := perMember[m]; {
		case n == 0:
			t.Errorf("warm restart did not write the sentinel to %s:\n%s", m, strings.Join(own, "\n"))
		case n > 1:
			t.Errorf("warm restart wrote the sentinel %d times to %s, want 1:\n%s", n, m, strings.Join(own, "\n"))
		}
	}
	if hostWrites > 10 {
		t.Errorf("warm restart wrote %d times to the host, want only the sentinel's:\n%s", hostWrites,
			strings.Join(e.hostLog.since(host0), "\n"))
	}
}

// explainMissing logs (a few of) the templates of ns that member1 or member2 lack, with what their
// bindings say.
func (e *testEnv) explainMissing(t *testing.T, ns string) {
	ctx := context.Background()
	cms, err := e.kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Log(err)
		return
	}
	for _, m := range []string{"member1", "member2"} {
		l, err := e.members[m].Resource(configMaps).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: member.LabelManaged + "=true"})
		if err != nil {
			t.Log(err)
			return
		}
		have := map[string]bool{}
		for _, it := range l.Items {
			have[it.GetName()] = true
		}
		shown := 0
		for _, cm := range cms.Items {
			if have[cm.Name] || cm.Name == "kube-root-ca.crt" || shown == 5 {
				continue
			}
			shown++
			b, err := e.binding(t, ns, cm.Name+"-configmap")
			if err != nil {
				t.Logf("%s lacks %s; no binding (%v); template annotations %v finalizers %v", m, cm.Name, err, cm.Annotations, cm.Finalizers)
				continue
			}
			t.Logf("%s lacks %s; binding clusters %v annotations %v status %+v", m, cm.Name, b.Spec.Clusters, b.Annotations, b.Status)
		}
	}
}
