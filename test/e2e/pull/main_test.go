// Package pull tests Pull mode's certificates end to end (the Pull issue's acceptance): agent
// certificates issued by cert-manager's real controllers, renewed with 2-minute lifetimes under
// load, and what other clusters' or untrusted certificates cannot do. Both members register in
// Pull mode; test/e2e/propagation runs the feature suites with member2 in Pull mode.
package pull

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// issuer is the cert-manager ClusterIssuer that signs the agents' certificates.
const issuer = "agents"

// lifetime is the agents' certificate lifetime: they renew at 80% of it.
const lifetime = 2 * time.Minute

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, localenv.Options{
		Members:     []localenv.MemberOptions{{Name: "member1"}, {Name: "member2"}},
		Gateway:     true,
		CertManager: true,
		GatewayArgs: []string{"--cluster-status-period=2s", "--agent-certificate-lifetime=" + lifetime.String(), "--cert-manager-issuer=ClusterIssuer/" + issuer},
	}, func(env *localenv.Env) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		ca, err := env.CreateCAClusterIssuer(ctx, issuer)
		if err != nil {
			return err
		}
		issuerCA = ca.Pool()
		for _, name := range []string{"member1", "member2"} {
			if err := env.RegisterPull(ctx, name); err != nil {
				return err
			}
		}
		return framework.WaitClustersReady(ctx, env, "member1", "member2")
	}))
}
