package app

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/fleetgate/fleetgate/bootstrap"
)

func newAgentCommand(name string) *cobra.Command {
	var kubeconfig, context, secret string
	o := bootstrap.AgentOptions{}
	cmd := &cobra.Command{
		Use:     "agent HOST:PORT --dir DIR --kubeconfig MEMBER",
		Short:   "Run a Pull member's agent: keep its tunnel to the gateway open and serve the gateway's requests",
		Example: "  " + name + " agent 127.0.0.1:7443 --dir fleetgate-agent --kubeconfig member2.kubeconfig",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			member, err := loadKubeconfig(kubeconfig, context)
			if err != nil {
				return err
			}
			o.Gateway, o.Member = args[0], member
			if secret != "" {
				ns, name, ok := strings.Cut(secret, "/")
				if !ok || ns == "" || name == "" {
					return fmt.Errorf("--credentials-secret %q: want NAMESPACE/NAME", secret)
				}
				kube, err := kubernetes.NewForConfig(member)
				if err != nil {
					return err
				}
				o.SaveCredentials = bootstrap.SecretCredentials(kube, ns, name)
			}
			return bootstrap.RunAgent(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", "fleetgate-agent", "directory register wrote the agent's key, certificate and the gateway's CA to")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of this member cluster: the agent's own access (default: $KUBECONFIG, in-cluster)")
	f.StringVar(&context, "context", "", "context in --kubeconfig")
	f.StringVar(&secret, "credentials-secret", "", "NAMESPACE/NAME of the member Secret --dir is mounted from (deploy/agent): renewed certificates are written there instead of into --dir")
	return cmd
}
