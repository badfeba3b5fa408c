package reconcile_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// A member that goes down while a cold start propagates many templates catches up once it is back.
func TestColdStartWithFlappingMember(t *testing.T) {
	e := sharedEnv(t)
	const ns, n = "flap", 300
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns))
	for i := range n {
		e.createConfigMap(t, ns, fmt.Sprintf("cm-%04d", i), map[string]string{"i": "x"})
	}
	e.startController(t)
	eventually(t, waitLong, func() error {
		if got, err := e.countCopies("member1", ns); err != nil || got < n/4 {
			return fmt.Errorf("member1 holds %d copies (%v)", got, err)
		}
		return nil
	})
	start := e.stopMember(t, "member1")
	if err := e.waitReady(context.Background(), "member1", false); err != nil {
		t.Fatal(err)
	}
	start()
	t.Cleanup(func() {
		if t.Failed() {
			e.explainMissing(t, ns)
		}
	})
	eventually(t, time.Minute, func() error {
		for _, m := range []string{"member1", "member2"} {
			if got, err := e.countCopies(m, ns); err != nil || got != n {
				return fmt.Errorf("%s holds %d copies (%v), want %d", m, got, err, n)
			}
		}
		if got, err := e.countApplied(ns); err != nil || got != n {
			return fmt.Errorf("%d bindings FullyApplied (%v), want %d", got, err, n)
		}
		return nil
	})
}
