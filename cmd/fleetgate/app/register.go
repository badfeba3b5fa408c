package app

import (
	"fmt"
	"sync"

	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/deploy"
	"github.com/fleetgate/fleetgate/deploy/install"
)

// checkReachable fails unless the cluster of cfg answers.
func checkReachable(cfg *rest.Config) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	if _, err := dc.ServerVersion(); err != nil {
		return fmt.Errorf("cannot reach the cluster of --kubeconfig (%s): %w", cfg.Host, err)
	}
	return nil
}

func newRegisterCommand(name string) *cobra.Command {
	o := bootstrap.RegisterOptions{}
	var runLocal bool
	var kubeconfig, kubeContext, image string
	cmd := &cobra.Command{
		Use:   "register HOST:PORT --token TOKEN --discovery-token-ca-cert-hash sha256:HASH --cluster-name NAME",
		Short: "Register this cluster with a gateway in Pull mode (its agent dials the gateway)",
		Long: "Register reads the gateway's cluster-info, checks it with the token and the CA pin (and stops before\n" +
			"sending the token when either is wrong), then has the agent's certificate signed with a key made here.\n" +
			"`" + name + " token create --print-register-command` prints this command.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Gateway, o.Out = args[0], cmd.OutOrStdout()
			deployAgent := !runLocal && cmd.Flags().Changed("kubeconfig")
			if image != "" && !deployAgent {
				return fmt.Errorf("--image: only with --kubeconfig and without --run-local (it is the agent Deployment's image)")
			}
			var member *rest.Config
			if runLocal || deployAgent {
				// Checked first: a registration whose agent cannot start is a Cluster that never
				// becomes Ready.
				var err error
				if member, err = loadKubeconfig(kubeconfig, kubeContext); err != nil {
					return err
				}
			}
			if deployAgent {
				if err := checkReachable(member); err != nil {
					return err
				}
			}
			if err := bootstrap.Register(cmd.Context(), o); err != nil {
				return err
			}
			if deployAgent {
				fmt.Fprintf(o.Out, "[agent] Installing the agent into the cluster at %s (namespace %s)\n", member.Host, deploy.Namespace)
				if err := install.InstallAgent(cmd.Context(), member, install.AgentOptions{Gateway: o.Gateway, Dir: o.Dir, Image: image}, o.Out); err != nil {
					return fmt.Errorf("install the agent: %w", err)
				}
				fmt.Fprintf(o.Out, "The agent's Deployment is created; cluster(%s) joins once it runs: kubectl -n %s rollout status deployment/%s\n",
					o.Cluster, deploy.Namespace, deploy.AgentDeployment)
				return nil
			}
			if !runLocal {
				fmt.Fprintf(o.Out, "Run its agent: %s agent %s --dir %s --kubeconfig <this cluster's kubeconfig>\n", name, o.Gateway, o.Dir)
				fmt.Fprintf(o.Out, "(or register with --kubeconfig <this cluster's kubeconfig> to have it installed there as a Deployment)\n")
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
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of this member cluster. With --run-local: the agent's own access (default: $KUBECONFIG). Without: register installs the agent there as a Deployment (deploy/agent, namespace "+deploy.Namespace+", with the files of --dir in a Secret, bound to cluster-admin)")
	f.StringVar(&kubeContext, "context", "", "context in --kubeconfig")
	f.StringVar(&image, "image", "", "with --kubeconfig (without --run-local): the agent's image, name[:tag] or name@digest (default "+deploy.Image+":latest)")
	for _, req := range []string{"token", "discovery-token-ca-cert-hash", "cluster-name"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}
