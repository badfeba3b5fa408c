// Package propagation tests propagation end to end (the Propagation issue's acceptance): Karmada
// policies applied through the gateway with the real kubectl place templates on real members.
package propagation

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, localenv.Options{
		Members: []localenv.MemberOptions{
			// Different capacities, so that dynamic weights have something to divide by.
			{Name: "member1", Workload: true, NodeCPU: "4", NodeMemory: "16Gi"},
			{Name: "member2", Workload: true, NodeCPU: "8", NodeMemory: "32Gi"},
			{Name: "member3"}, // bare; joined by the tests that need a late cluster
		},
		Gateway:     true,
		GatewayArgs: []string{"--cluster-status-period=2s", "--v=2"},
	}, func(env *localenv.Env) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// member1 in Push mode, member2 in Pull mode (as in the WALKTHROUGH), unless
		// $FLEETGATE_E2E_PULL says otherwise.
		return framework.Join(ctx, env, framework.PullMembers("member2"), "member1", "member2")
	}))
}
