package clusterstatus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// renewerFunc is a CredentialRenewer that calls itself.
type renewerFunc func(ctx context.Context, c *clusterv1alpha1.Cluster) ([]string, time.Time, error)

func (f renewerFunc) Renew(ctx context.Context, c *clusterv1alpha1.Cluster) ([]string, time.Time, error) {
	return f(ctx, c)
}

var _ CredentialRenewer = renewerFunc(nil)

// answer of the scripted renewer.
type renewal struct {
	renewed []string
	next    time.Duration // after the visit; 0: zero time
	err     error
}

// TestRenewalDuringVisits: the visit asks the renewer before the probe, at the first visit, then
// only once the renewal it announced is due (at most 10 minutes later, also when it announced
// none), and at
// the next visit after a failure; renewals and failures are events on the Cluster naming what
// happened; a failure does not fail the visit; Pull clusters are never asked.
func TestRenewalDuringVisits(t *testing.T) {
	f := newFixture(t, Options{Period: 10 * time.Second})
	recorder := record.NewFakeRecorder(10)
	f.c.opts.Recorder = recorder
	var script []renewal
	var asked []time.Time
	var order []string
	f.c.opts.Renewer = renewerFunc(func(ctx context.Context, c *clusterv1alpha1.Cluster) ([]string, time.Time, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("renewal without a deadline")
		}
		order = append(order, "renew")
		asked = append(asked, f.clock.Now())
		r := script[0]
		script = script[1:]
		var next time.Time
		if r.next != 0 {
			next = f.clock.Now().Add(r.next)
		}
		return r.renewed, next, r.err
	})
	f.c.prober = proberFunc(func(context.Context, string) (probe, error) {
		order = append(order, "probe")
		return answer(true), nil
	})
	push := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "member1", UID: types.UID("uid-1")},
		Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Push}}
	if _, err := client.Clusters(f.host).Create(context.Background(), push, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.refresh("member1")

	visit := func(after time.Duration, wantAsked bool, wantEvent string) {
		t.Helper()
		n := len(asked)
		order = nil
		if c := f.probe("member1", after, true); stateOf(c) != ready {
			t.Fatalf("cluster not Ready after the visit: %+v", c.Status.Conditions)
		}
		if got := len(asked) > n; got != wantAsked {
			t.Fatalf("renewer asked %v at %s, want %v", got, f.clock.Now(), wantAsked)
		}
		if wantAsked && (len(order) != 2 || order[0] != "renew") {
			t.Errorf("visit order %v, want the renewal before the probe", order)
		}
		select {
		case e := <-recorder.Events:
			if wantEvent == "" || !strings.Contains(e, wantEvent) {
				t.Errorf("event %q, want %q", e, wantEvent)
			}
		default:
			if wantEvent != "" {
				t.Errorf("no event, want %q", wantEvent)
			}
		}
	}
	script = []renewal{
		{next: 5 * time.Minute}, // at the first visit: nothing due yet
		{renewed: []string{"fleetgate-system/member1", "fleetgate-system/member1-impersonator"}, next: time.Hour}, // asked again after 10 minutes
		{err: errors.New("cluster member1: request a new token for kube-system/fleetgate-propagator: connection refused")},
		{renewed: []string{"fleetgate-system/member1"}}, // renewed, and nothing left it can renew
		{},
	}
	visit(0, true, "")
	visit(10*time.Second, false, "")
	visit(5*time.Minute-20*time.Second, false, "")
	visit(10*time.Second, true, "Normal CredentialsRenewed renewed the tokens in fleetgate-system/member1, fleetgate-system/member1-impersonator")
	visit(renewalRecheck-time.Second, false, "")
	visit(time.Second, true, "Warning CredentialRenewalFailed cluster member1: request a new token for kube-system/fleetgate-propagator: connection refused")
	visit(10*time.Second, true, "Normal CredentialsRenewed renewed the tokens in fleetgate-system/member1")
	visit(renewalRecheck-time.Second, false, "")
	visit(time.Second, true, "")

	// Deleted and joined again under the same name: asked at once.
	script = []renewal{{next: time.Hour}}
	if err := client.Clusters(f.host).Delete(context.Background(), "", "member1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	push.UID = "uid-2"
	if _, err := client.Clusters(f.host).Create(context.Background(), push, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.refresh("member1")
	visit(time.Second, true, "")
	obj, _, _ := f.c.informer.GetIndexer().GetByKey("member1")
	if err := f.c.informer.GetIndexer().Delete(obj); err != nil {
		t.Fatal(err)
	}
	if err := f.c.sync(context.Background(), "member1"); err != nil {
		t.Fatal(err)
	}
	if len(f.c.renewals.next) != 0 {
		t.Errorf("renewal of a deleted cluster kept: %+v", f.c.renewals.next)
	}

	// A Pull cluster has no credentials in the host.
	f.join("pull1")
	pull := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "pull2"}, Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Pull}}
	if _, err := client.Clusters(f.host).Create(context.Background(), pull, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.refresh("pull2")
	n := len(asked)
	for _, name := range []string{"pull1", "pull2"} {
		if err := f.c.sync(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	if len(asked) != n {
		t.Errorf("renewer asked for a cluster that is not Push")
	}
}
