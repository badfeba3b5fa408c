package reconcile

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestWaitersReleaseUpToAVersion(t *testing.T) {
	w := newWaiters()
	k := Key{Kind: schema.GroupKind{Kind: "ConfigMap"}, Namespace: "ns", Name: "a"}
	old, cur, later := w.add(k, "10"), w.add(k, "12"), w.add(k, "15")
	if got := w.oldest(k); got != "10" {
		t.Fatalf("oldest = %q, want 10", got)
	}
	w.release(k, "12")
	for name, wt := range map[string]*waiter{"10": old, "12": cur} {
		select {
		case <-wt.done:
		default:
			t.Errorf("waiter at %s not released by a pass over 12", name)
		}
	}
	select {
	case <-later.done:
		t.Error("waiter at 15 released by a pass over 12")
	default:
	}
	w.remove(k, later)
	if got := w.oldest(k); got != "" {
		t.Errorf("oldest after remove = %q", got)
	}
}

func TestNewer(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{{"10", "9", true}, {"9", "10", false}, {"10", "10", false}, {"x", "x", false}, {"x", "y", true}} {
		if got := newer(tc.a, tc.b); got != tc.want {
			t.Errorf("newer(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
