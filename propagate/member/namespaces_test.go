package member

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

func TestNamespacesAsksOncePerTTL(t *testing.T) {
	c := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := NewNamespaces(time.Minute)
	n.now = func() time.Time { return now }
	creates := func() int {
		k := 0
		for _, a := range c.Actions() {
			if a.GetVerb() == "create" && a.GetResource().Resource == "namespaces" {
				k++
			}
		}
		return k
	}
	ctx := context.Background()
	for range 3 {
		if err := n.Ensure(ctx, c, "member1", "app"); err != nil {
			t.Fatal(err)
		}
	}
	if got := creates(); got != 1 {
		t.Fatalf("%d creates for three writes within the ttl", got)
	}
	_ = n.Ensure(ctx, c, "member2", "app")
	now = now.Add(2 * time.Minute)
	_ = n.Ensure(ctx, c, "member1", "app")
	n.Forget("member1", "app")
	_ = n.Ensure(ctx, c, "member1", "app")
	if got := creates(); got != 4 {
		t.Errorf("%d creates, want 4 (other cluster, expiry, forget)", got)
	}
}
