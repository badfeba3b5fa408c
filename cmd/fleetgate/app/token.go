package app

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/bootstrap/token"
	"github.com/fleetgate/fleetgate/certs"
)

func newTokenCommand(name string) *cobra.Command {
	var kubeconfig string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the bootstrap tokens with which Pull-mode members register",
	}
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the gateway (default: $KUBECONFIG or ~/.kube/config)")
	client := func() (*rest.Config, kubernetes.Interface, error) {
		cfg, err := loadKubeconfig(kubeconfig, "")
		if err != nil {
			return nil, nil, err
		}
		kube, err := kubernetes.NewForConfig(cfg)
		return cfg, kube, err
	}

	var o token.CreateOptions
	var printRegister bool
	create := &cobra.Command{
		Use:     "create",
		Short:   "Create a bootstrap token (kept in the control plane's kube-system, removed once expired)",
		Example: "  " + name + " token create --print-register-command",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, kube, err := client()
			if err != nil {
				return err
			}
			var register string
			if printRegister {
				// Checked before the token exists: a token nobody is told how to use is one too many.
				if register, err = registerCommand(name, cfg); err != nil {
					return err
				}
			}
			t, err := token.Create(cmd.Context(), kube, o, time.Now())
			if err != nil {
				return err
			}
			if printRegister {
				fmt.Fprintln(cmd.OutOrStdout(), strings.Replace(register, "{token}", t.String(), 1))
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), t)
			return nil
		},
	}
	create.Flags().DurationVar(&o.TTL, "ttl", token.DefaultTTL, "how long the token is valid; 0s: it never expires")
	create.Flags().StringVar(&o.Description, "description", "", "what the token is for, shown by token list")
	create.Flags().BoolVar(&printRegister, "print-register-command", false, "print the whole register command for a member, with the gateway's address and CA pin")
	create.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if cmd.Flags().Changed("ttl") && o.TTL == 0 {
			o.TTL = -1 // never expires
		}
		if o.TTL < 0 && o.TTL != -1 {
			return fmt.Errorf("--ttl %s: must not be negative", o.TTL)
		}
		return nil
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List the bootstrap tokens (their IDs; the secrets stay in the control plane)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, kube, err := client()
			if err != nil {
				return err
			}
			tokens, err := token.List(cmd.Context(), kube)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "ID\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS")
			now := time.Now()
			for _, t := range tokens {
				ttl, expires := "<forever>", "<never>"
				if !t.Expires.IsZero() {
					expires = t.Expires.Format(time.RFC3339)
					if left := t.Expires.Sub(now); left > 0 {
						ttl = left.Round(time.Minute).String()
					} else {
						ttl = "<expired>"
					}
				}
				desc := t.Description
				if desc == "" {
					desc = "<none>"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, ttl, expires, strings.Join(t.Usages, ","), desc, strings.Join(t.Groups, ","))
			}
			return w.Flush()
		},
	}

	del := &cobra.Command{
		Use:   "delete TOKEN|ID...",
		Short: "Delete bootstrap tokens: members can no longer register with them",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, kube, err := client()
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range args {
				if err := token.Delete(cmd.Context(), kube, a); err != nil {
					errs = append(errs, err)
					continue
				}
				id, _, _ := strings.Cut(a, ".")
				fmt.Fprintf(cmd.OutOrStdout(), "bootstrap token %q deleted\n", id)
			}
			return errors.Join(errs...)
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

// registerCommand is "<name> register <host:port> --token {token} --discovery-token-ca-cert-hash
// sha256:…" for the gateway cfg points at ({token} to be filled in).
func registerCommand(name string, cfg *rest.Config) (string, error) {
	addr, pin, err := gatewayPin(cfg)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s register %s --token {token} --discovery-token-ca-cert-hash %s", name, addr, pin), nil
}

// gatewayPin returns the host:port of the gateway cfg points at and the pin of its CA.
func gatewayPin(cfg *rest.Config) (addr, pin string, err error) {
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("the kubeconfig's server %q is not a URL", cfg.Host)
	}
	caPEM := cfg.CAData
	if len(caPEM) == 0 && cfg.CAFile != "" {
		if caPEM, err = os.ReadFile(cfg.CAFile); err != nil {
			return "", "", fmt.Errorf("the kubeconfig's certificate authority: %w", err)
		}
	}
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return "", "", errors.New("the kubeconfig names no certificate authority for the gateway: register needs its pin")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", "", fmt.Errorf("the kubeconfig's certificate authority: %w", err)
	}
	return u.Host, certs.PinHash(ca), nil
}
