package app

import (
	"context"
	goflag "flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

// Version is set at build time with -ldflags "-X github.com/fleetgate/fleetgate/cmd/fleetgate/app.Version=…".
var Version = "v0.1.0-dev"

// Main runs the command tree named name ("fleetgate" or "kubectl fleetgate") and returns the exit code.
func Main(name string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := NewRootCommand(name).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

// NewRootCommand returns the command tree.
func NewRootCommand(name string) *cobra.Command {
	root := &cobra.Command{
		Use:           name,
		Short:         "fleetgate: one kubeconfig, many clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	klogFlags := goflag.NewFlagSet("klog", goflag.ContinueOnError)
	klog.InitFlags(klogFlags)
	klogFlags.VisitAll(func(f *goflag.Flag) {
		if f.Name == "v" || f.Name == "vmodule" {
			root.PersistentFlags().AddGoFlag(f)
		}
	})
	root.AddCommand(
		newServeCommand(),
		newInitCommand(name),
		newJoinCommand(name),
		newUnjoinCommand(name),
		newUpCommand(),
		newTokenCommand(name),
		newRegisterCommand(name),
		newAgentCommand(name),
		newVersionCommand(),
	)
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the fleetgate version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "fleetgate %s\n", Version)
			return err
		},
	}
}

// loadKubeconfig loads path (or, when empty, $KUBECONFIG / ~/.kube/config) and context.
func loadKubeconfig(path, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		if path == "" {
			return nil, fmt.Errorf("load kubeconfig: %w", err)
		}
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

func logger(ctx context.Context) klog.Logger { return klog.FromContext(ctx) }
