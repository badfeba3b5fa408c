package crds_test

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/apis/crds"
)

// Install the CRDs into a host control plane before starting informers on them.
func ExampleInstall() {
	cfg := &rest.Config{Host: "https://127.0.0.1:6443"} // e.g. from the host kubeconfig
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := crds.Install(ctx, cfg); err != nil {
		fmt.Println(err) // names the CRD that failed
	}
}

func ExampleNames() {
	for _, name := range crds.Names() {
		fmt.Println(name)
	}
	// Output:
	// clusteroverridepolicies.policy.karmada.io
	// clusterpropagationpolicies.policy.karmada.io
	// clusterresourcebindings.work.karmada.io
	// clusters.cluster.karmada.io
	// overridepolicies.policy.karmada.io
	// propagationpolicies.policy.karmada.io
	// resourcebindings.work.karmada.io
}
