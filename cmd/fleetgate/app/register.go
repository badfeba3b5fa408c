package app

import (
	"fmt"
	"sync"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/bootstrap"
)

func newRegisterCommand(name string) *cobra.Command {
	o := bootstrap.RegisterOptions{}
	var runLocal bool
	var kubeconfig, kubeContext string
	cmd := &cobra.Command{
		Use:   "register HOST:PORT --token TOKEN --discovery-token-ca-cert-hash sha256:HASH --cluster-name NAME",
		Short: "Register this cluster with a gateway in Pull mode (its agent dials the gateway)",
		Long: "Register reads the gateway's cluster-info, checks it with the token and the CA pin (and stops before\n" +
			"sending the token when either is wrong), then has the agent's certificate signed with a key made here.\n" +
			"`" + name + " token create --print-register-command` prints this command.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Gateway, o.Out = args[0], cmd.OutOrStdout()
			var member *rest.Config
			if runLocal {
				// Checked first: a registration whose agent cannot start is a Cluster that never
				// becomes Ready.
				var err error
				if member, err = loadKubeconfig(kubeconfig, kubeContext); err != nil {
					return err
				}
			}
			if err := bootstrap.Register(cmd.Context(), o); err != nil {
				return err
			}
			if !runLocal {
				fmt.Fprintf(o.Out, "Run its agent: %s agent %s --dir %s --kubeconfig <this cluster's kubeconfig>\n", name, o.Gateway, o.Dir)
				return nil
			}
			var once sync.Once
			return bootstrap.RunAgent(cmd.Context(), bootstrap.AgentOptions{Gateway: o.Gateway, Dir: o.Dir, Member: member,
				OnConnect: func() {
					once.Do(func() { fmt.Fprintf(o.Out, "cluster(%s) is joined successfully\n", o.Cluster) })
				}})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Token, "token", "", "bootstrap token (token create prints one)")
	f.StringVar(&o.CAHash, "discovery-token-ca-cert-hash", "", "pin of the gateway's CA: sha256:<hex> of its DER SubjectPublicKeyInfo")
	f.StringVar(&o.Cluster, "cluster-name", "", "name of this cluster in the gateway")
	f.StringVar(&o.Dir, "dir", "fleetgate-agent", "directory for the agent's key, certificate and the gateway's CA")
	f.BoolVar(&runLocal, "run-local", false, "after registering, run the agent here, in the foreground, with --kubeconfig")
	f.StringVar(&kubeconfig, "kubeconfig", "", "with --run-local: kubeconfig of this member cluster, the agent's own access (default: $KUBECONFIG)")
	f.StringVar(&kubeContext, "context", "", "with --run-local: context in --kubeconfig")
	for _, req := range []string{"token", "discovery-token-ca-cert-hash", "cluster-name"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}
