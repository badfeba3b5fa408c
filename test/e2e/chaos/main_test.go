package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// members are the clusters every template is placed on.
var members = []string{"member1", "member2"}

// gatewayArgs are test/e2e/propagation's flags with a faster health probe, so that faults become
// visible (and healed) within seconds.
var gatewayArgs = []string{"--cluster-status-period=1s", "--v=2"}

// thresholdArgs make a member NotReady after 3s of failed probes and Ready after 1s of good ones,
// passed only when the gateway has them.
var thresholdArgs = []string{"--cluster-failure-threshold=3s", "--cluster-success-threshold=1s", "--cluster-probe-timeout=1s"}

func TestMain(m *testing.M) {
	args := gatewayArgs
	if servesFlag("--cluster-failure-threshold") {
		args = append(args, thresholdArgs...)
	}
	os.Exit(framework.Main(m, localenv.Options{
		// Bare members: a Deployment is stored and compared like any object, and nothing runs it.
		Members:     []localenv.MemberOptions{{Name: members[0]}, {Name: members[1]}},
		Gateway:     true,
		GatewayArgs: args,
	}, func(env *localenv.Env) error {
		fmt.Printf("chaos: gateway flags %s\n", strings.Join(args, " "))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// member2 in Pull mode (its agent's tunnel survives the faults too), unless
		// $FLEETGATE_E2E_PULL says otherwise.
		return framework.Join(ctx, env, framework.PullMembers(members[1]), members...)
	}))
}

// servesFlag reports whether `fleetgate serve --help` lists flag (another change adds the
// threshold flags; until it lands they are not passed).
func servesFlag(flag string) bool {
	dir, err := localenv.DefaultBinDir()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "fleetgate"), "serve", "--help").CombinedOutput()
	return err == nil && strings.Contains(string(out), flag)
}
