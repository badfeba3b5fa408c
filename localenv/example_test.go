package localenv_test

import (
	"context"
	"fmt"
	"os"

	"github.com/fleetgate/fleetgate/localenv"
)

// A host, a bare member and a workload member with two 8-CPU Nodes, plus the gateway. In go tests,
// use envtest.ForTest instead: it also stops the environment and prints its logs when the test fails.
func ExampleStart() {
	env, err := localenv.Start(context.Background(), localenv.Options{
		Dir: ".fleetgate",
		Members: []localenv.MemberOptions{
			{},
			{Workload: true, Nodes: 2, NodeCPU: "8", NodeMemory: "32Gi"},
		},
		Gateway: true,
		Out:     os.Stderr,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer env.Stop()

	fmt.Println("export KUBECONFIG=" + env.GatewayKubeconfig)
	fmt.Println("member2 nodes:", env.Member("member2").Nodes)

	// Take member1's apiserver away and bring it back on the same port.
	_ = env.Member("member1").StopAPIServer(context.Background())
	_ = env.Member("member1").StartAPIServer(context.Background())

	// kill -9 the gateway and start it again with one more flag.
	_ = env.KillGateway()
	_ = env.StartGateway(context.Background(), "--v=4")
}
