// Package foundation tests the walking skeleton end to end: the gateway's front door in front of a real
// host control plane, Push-mode clusters with live health, and `fleetgate up`.
package foundation

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, localenv.Options{
		// member2's audit log tells TestPushTokensAreRenewed which token the gateway used.
		Members: []localenv.MemberOptions{{Name: "member1"}, {Name: "member2", AuditLog: true}},
		Gateway: true,
		// Faster health probes keep the NotReady test short; the default is 10s. Tokens are renewed
		// once 1% of their lifetime has passed: after 6s for TestPushTokensAreRenewed's 10-minute
		// tokens, never during a run for member1's one-year ones.
		GatewayArgs: []string{"--cluster-status-period=3s", "--cluster-token-renewal-fraction=0.01"},
	}, func(env *localenv.Env) error {
		m := env.Member("member1")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r := framework.Run(ctx, "fleetgate", "join", "member1", "--kubeconfig", env.GatewayKubeconfig, "--cluster-kubeconfig", m.Kubeconfig)
		if r.Err != nil {
			return fmt.Errorf("join member1: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
		}
		return nil
	}))
}
