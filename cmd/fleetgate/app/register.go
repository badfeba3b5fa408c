package app

import (
	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/bootstrap"
)

func newRegisterCommand(name string) *cobra.Command {
	o := bootstrap.RegisterOptions{}
	cmd := &cobra.Command{
		Use:   "register HOST:PORT --token TOKEN --discovery-token-ca-cert-hash sha256:HASH --cluster-name NAME",
		Short: "Register this cluster with a gateway in Pull mode (its agent dials the gateway)",
		Long: "Register reads the gateway's cluster-info, checks it with the token and the CA pin (and stops before\n" +
			"sending the token when either is wrong), then has the agent's certificate signed with a key made here.\n" +
			"`" + name + " token create --print-register-command` prints this command.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Gateway, o.Out = args[0], cmd.OutOrStdout()
			return bootstrap.Register(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Token, "token", "", "bootstrap token (token create prints one)")
	f.StringVar(&o.CAHash, "discovery-token-ca-cert-hash", "", "pin of the gateway's CA: sha256:<hex> of its DER SubjectPublicKeyInfo")
	f.StringVar(&o.Cluster, "cluster-name", "", "name of this cluster in the gateway")
	f.StringVar(&o.Dir, "dir", "fleetgate-agent", "directory for the agent's key, certificate and the gateway's CA")
	for _, req := range []string{"token", "discovery-token-ca-cert-hash", "cluster-name"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}
