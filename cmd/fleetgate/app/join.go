package app

import (
	"github.com/spf13/cobra"

	"github.com/fleetgate/fleetgate/bootstrap"
)

func newJoinCommand(name string) *cobra.Command {
	var kubeconfig string
	o := bootstrap.JoinOptions{}
	cmd := &cobra.Command{
		Use:     "join NAME --cluster-kubeconfig FILE",
		Short:   "Join a member cluster in Push mode (the gateway reaches its apiserver directly)",
		Example: "  " + name + " join member1 --kubeconfig gateway.kubeconfig --cluster-kubeconfig member1.kubeconfig",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := loadKubeconfig(kubeconfig, "")
			if err != nil {
				return err
			}
			o.Name, o.Host, o.Out = args[0], host, cmd.OutOrStdout()
			return bootstrap.Join(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the gateway (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.MemberKubeconfig, "cluster-kubeconfig", "", "kubeconfig of the member cluster (admin)")
	f.StringVar(&o.MemberContext, "cluster-context", "", "context in --cluster-kubeconfig (default: its current context)")
	f.DurationVar(&o.TokenExpiration, "token-expiration", 0, "lifetime of the credentials created in the member (default 8760h, at least 10m); the gateway renews them with the same lifetime (serve --cluster-token-renewal-fraction)")
	_ = cmd.MarkFlagRequired("cluster-kubeconfig")
	return cmd
}

func newUnjoinCommand(name string) *cobra.Command {
	var kubeconfig string
	o := bootstrap.UnjoinOptions{}
	cmd := &cobra.Command{
		Use:     "unjoin NAME",
		Short:   "Remove a member cluster, and what join created in it",
		Example: "  " + name + " unjoin member1 --kubeconfig gateway.kubeconfig --cluster-kubeconfig member1.kubeconfig",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := loadKubeconfig(kubeconfig, "")
			if err != nil {
				return err
			}
			o.Name, o.Host, o.Out = args[0], host, cmd.OutOrStdout()
			return bootstrap.Unjoin(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the gateway (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.MemberKubeconfig, "cluster-kubeconfig", "", "admin kubeconfig of the member; without it the stored credentials are used")
	f.StringVar(&o.MemberContext, "cluster-context", "", "context in --cluster-kubeconfig")
	f.BoolVar(&o.Force, "force", false, "remove the cluster from the control plane even if the member cannot be cleaned up")
	return cmd
}
