package propagation

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// TestClusterProxyStreams: through /clusters/<member>/… kubectl logs and exec (with stdin) reach a
// kwok pod of member1 (Push) and of member2 (Pull: through the agent's tunnel and its proxy), over
// WebSocket (kubectl's default) and over SPDY. The command is `head -n 1`, not `cat`: kwok's local
// exec does not pass the end of stdin on, so `exec -i … cat` never ends, even straight against the
// member.
func TestClusterProxyStreams(t *testing.T) {
	ns := namespace(t, "cproxy-streams")
	framework.Apply(t, gw(), pp(ns, "to-both", "web", "clusterAffinity: {clusterNames: [member1, member2]}"))
	framework.Kubectl(t, gw(), "-n", ns, "create", "deployment", "web", "--image", "nginx")
	for _, cluster := range []string{"member1", "member2"} {
		t.Run(cluster, func(t *testing.T) { testClusterProxyStreams(t, ns, cluster) })
	}
}

func testClusterProxyStreams(t *testing.T, ns, cluster string) {
	var pod string
	eventually(t, time.Minute, func() error {
		out := framework.Kubectl(t, memberKC(cluster), "-n", ns, "get", "pods", "-l", "app=web",
			"-o", "jsonpath={range .items[?(@.status.phase==\"Running\")]}{.metadata.name}{\"\\n\"}{end}")
		if pod = strings.TrimSpace(strings.Split(out, "\n")[0]); pod == "" {
			return fmt.Errorf("no running pod of web in %s yet", cluster)
		}
		return nil
	})
	server := framework.Env.GatewayURL + "/clusters/" + cluster
	for _, websockets := range []string{"true", "false"} {
		t.Run("websockets="+websockets, func(t *testing.T) {
			t.Setenv("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", websockets)
			logs := framework.Kubectl(t, gw(), "--server", server, "-n", ns, "logs", pod)
			if !strings.Contains(logs, cluster+": fake container log") || !strings.Contains(logs, localenv.PodLogLines[0]) {
				t.Errorf("logs through the cluster proxy:\n%s", logs)
			}
			r := framework.KubectlStdin(t, gw(), "ping through the tunnel\n", "--server", server, "-n", ns, "exec", "-i", pod, "--", "head", "-n", "1")
			if r.Err != nil || !strings.Contains(r.Stdout, "ping through the tunnel") {
				t.Errorf("exec -i head -n 1 through the cluster proxy: %v\nstdout %q\nstderr %s", r.Err, r.Stdout, r.Stderr)
			}
		})
	}
}
