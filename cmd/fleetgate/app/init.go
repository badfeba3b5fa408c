package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/deploy"
	"github.com/fleetgate/fleetgate/deploy/install"
)

// initOptions are `fleetgate init`'s flags.
type initOptions struct {
	kubeconfig, context string
	certManager         bool
	dryRun              bool
	image               string
	wait                bool
	timeout             time.Duration
	gatewayAddress      string // host:port clients and agents use; empty: port-forward
	gatewayKubeconfig   string // where the administrator's kubeconfig is written
}

// localGatewayAddress is the gateway's address through `kubectl port-forward` (localhost and
// 127.0.0.1 are always in its serving certificate).
const localGatewayAddress = "127.0.0.1:7443"

func newInitCommand(name string) *cobra.Command {
	o := initOptions{wait: true, timeout: 5 * time.Minute, gatewayKubeconfig: "fleetgate-gateway.kubeconfig"}
	cmd := &cobra.Command{
		Use:   "init --kubeconfig CLUSTER",
		Short: "Install fleetgate (host control plane and gateway) into a Kubernetes cluster",
		Long: "init renders deploy/base (deploy/cert-manager with --cert-manager), creates the certificates and keys\n" +
			"the manifests name (never replacing existing ones: running it again rotates no CA), applies everything\n" +
			"server-side into the namespace " + deploy.Namespace + ", waits until the host control plane and the gateway are\n" +
			"available, writes the administrator's gateway kubeconfig and prints how members join and register.",
		Example: "  " + name + " init --kubeconfig cluster.kubeconfig --gateway-address fleetgate.example.com:443\n" +
			"  " + name + " init --dry-run    # print the manifests, touch no cluster",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			objs, err := deploy.Render(o.renderOptions())
			if err != nil {
				return err
			}
			if o.dryRun {
				return printDryRun(cmd.OutOrStdout(), o, objs)
			}
			cfg, err := loadKubeconfig(o.kubeconfig, o.context)
			if err != nil {
				return err
			}
			return runInit(cmd.Context(), cmd.OutOrStdout(), name, o, cfg, objs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to install into (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.context, "context", "", "context in --kubeconfig")
	f.BoolVar(&o.certManager, "cert-manager", false, "the gateway's serving certificate from cert-manager (installed in the cluster): deploy/cert-manager instead of deploy/base")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the manifests init would apply (and the Secrets it would create, without their contents); touch no cluster")
	f.StringVar(&o.image, "image", "", "the fleetgate image, name[:tag] or name@digest (default "+deploy.Image+":latest)")
	f.BoolVar(&o.wait, "wait", o.wait, "wait until etcd, the host apiserver and controller-manager and the gateway are available")
	f.DurationVar(&o.timeout, "timeout", o.timeout, "with --wait: how long to wait")
	f.StringVar(&o.gatewayAddress, "gateway-address", "", "host:port at which clients and members' agents reach the gateway (a load balancer's, an ingress's); it goes into the gateway's serving certificate and the kubeconfig. Empty: the kubeconfig points at "+localGatewayAddress+" through kubectl port-forward")
	f.StringVar(&o.gatewayKubeconfig, "gateway-kubeconfig", o.gatewayKubeconfig, "where to write the administrator's kubeconfig for the gateway (system:masters)")
	cmd.AddCommand(newSeedCACommand())
	return cmd
}

func (o *initOptions) validate() error {
	if o.timeout <= 0 {
		return fmt.Errorf("--timeout %s: must be positive", o.timeout)
	}
	if o.gatewayAddress != "" {
		host, port, err := net.SplitHostPort(o.gatewayAddress)
		if err != nil || host == "" {
			return fmt.Errorf("--gateway-address %q: want host:port", o.gatewayAddress)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("--gateway-address %q: port %q is not a port number", o.gatewayAddress, port)
		}
	}
	if o.gatewayKubeconfig == "" && !o.dryRun {
		return fmt.Errorf("--gateway-kubeconfig: must not be empty")
	}
	return nil
}

func (o *initOptions) renderOptions() deploy.Options {
	r := deploy.Options{Overlay: deploy.Base, Image: o.image}
	if o.certManager {
		r.Overlay = deploy.CertManager
	}
	if o.gatewayAddress != "" {
		host, _, _ := net.SplitHostPort(o.gatewayAddress)
		r.GatewaySANs = []string{host}
		r.ExternalAddress = o.gatewayAddress
	}
	return r
}

// printDryRun prints the manifests, the Secrets init would create (names and keys only: never
// keys or certificates) and the CRDs the gateway installs into the host at start.
func printDryRun(out io.Writer, o initOptions, objs []*unstructured.Unstructured) error {
	r := o.renderOptions()
	data, err := deploy.RenderYAML(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "# fleetgate init --dry-run: deploy/%s, %d objects, applied server-side (field manager %s) into the cluster of --kubeconfig.\n", r.Overlay, len(objs), install.InitFieldManager)
	out.Write(data)
	fmt.Fprintf(out, "---\n# Secrets init creates in %s when they are missing (existing ones are kept; contents not printed):\n", deploy.Namespace)
	for _, s := range install.SecretNames {
		fmt.Fprintf(out, "#   secret/%s\n", s)
	}
	crdYAML, err := deploy.RenderYAML(deploy.Options{Overlay: deploy.CRDs})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "# The CRDs below are not applied by init: the gateway installs them into the host control plane at\n# start (--install-crds); deploy/crds holds the same for a gateway run with --install-crds=false.\n---\n")
	out.Write(crdYAML)
	fmt.Fprintln(out, "# dry run: nothing was created.")
	return nil
}

func runInit(ctx context.Context, out io.Writer, name string, o initOptions, cfg *rest.Config, objs []*unstructured.Unstructured) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "[preflight] Checking the cluster at %s\n", cfg.Host)
	v, err := kube.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("cannot reach the cluster of --kubeconfig (%s): %w", cfg.Host, err)
	}
	fmt.Fprintf(out, "[preflight] Kubernetes %s\n", v.GitVersion)
	if o.certManager {
		if err := checkCertManager(kube); err != nil {
			return err
		}
	}
	// The namespace first: the PKI Secrets go into it before anything that mounts them.
	var ns, others []*unstructured.Unstructured
	for _, obj := range objs {
		if obj.GetKind() == "Namespace" {
			ns = append(ns, obj)
		} else {
			others = append(others, obj)
		}
	}
	if err := install.Apply(ctx, cfg, ns, install.InitFieldManager, out); err != nil {
		return err
	}
	pki, err := install.EnsurePKI(ctx, kube, out)
	if err != nil {
		return err
	}
	if err := install.Apply(ctx, cfg, others, install.InitFieldManager, out); err != nil {
		return err
	}
	if o.wait {
		fmt.Fprintf(out, "[wait] Waiting up to %s for the host control plane and the gateway\n", o.timeout)
		if err := install.Wait(ctx, kube, install.Workloads, o.timeout, out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "[wait] Not waiting (--wait=false): kubectl -n %s get pods\n", deploy.Namespace)
	}
	addr := o.gatewayAddress
	if addr == "" {
		addr = localGatewayAddress
	}
	kc, err := install.Kubeconfig(pki.GatewayCA, "fleetgate", "https://"+addr, install.AdminUser, []string{"system:masters"})
	if err != nil {
		return err
	}
	path, err := filepath.Abs(o.gatewayKubeconfig)
	if err != nil {
		return err
	}
	if err := kc.Write(path); err != nil {
		return err
	}
	fmt.Fprintf(out, "[kubeconfig] Wrote the gateway kubeconfig (%s, system:masters) to %s\n", install.AdminUser, path)
	printNextSteps(out, name, o, addr, path, certs.PinHash(pki.GatewayCA.Cert))
	return nil
}

func printNextSteps(out io.Writer, name string, o initOptions, addr, kubeconfig, pin string) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\nfleetgate is installed in namespace %s.\n", deploy.Namespace)
	if o.gatewayAddress == "" {
		fmt.Fprintf(&b, "\nThe kubeconfig points at %s; forward it to the gateway's Service first:\n"+
			"  kubectl -n %s port-forward svc/%s 7443:443\n"+
			"For clients and agents elsewhere, run init again with --gateway-address <host:port> (a load balancer's\n"+
			"or an ingress's address for that Service), which goes into the gateway's serving certificate.\n",
			addr, deploy.Namespace, deploy.GatewayService)
	}
	fmt.Fprintf(&b, "\n  export KUBECONFIG=%s\n", kubeconfig)
	fmt.Fprintf(&b, "\nJoin a cluster in Push mode (the gateway calls its apiserver):\n"+
		"  %s join <cluster-name> --kubeconfig %s --cluster-kubeconfig <member's admin kubeconfig>\n", name, kubeconfig)
	fmt.Fprintf(&b, "\nRegister a cluster in Pull mode (its agent dials the gateway at %s):\n"+
		"  %s token create --print-register-command --kubeconfig %s\n"+
		"and in the member (--kubeconfig installs the agent as a Deployment there):\n"+
		"  %s register %s --token <token> --discovery-token-ca-cert-hash %s --cluster-name <cluster-name> --kubeconfig <member's kubeconfig>\n",
		addr, name, kubeconfig, name, addr, pin)
	out.Write(b.Bytes())
}

// checkCertManager fails unless the cluster serves cert-manager's Issuer and Certificate.
func checkCertManager(kube kubernetes.Interface) error {
	res, err := kube.Discovery().ServerResourcesForGroupVersion("cert-manager.io/v1")
	if err != nil {
		return fmt.Errorf("--cert-manager: the cluster does not serve cert-manager.io/v1 (is cert-manager installed?): %w", err)
	}
	for _, kind := range []string{"Issuer", "Certificate"} {
		found := false
		for _, r := range res.APIResources {
			found = found || (r.Kind == kind && !strings.Contains(r.Name, "/"))
		}
		if !found {
			return fmt.Errorf("--cert-manager: the cluster does not serve cert-manager.io/v1 %s", kind)
		}
	}
	return nil
}

// newSeedCACommand is the gateway pod's init container (deploy/base): it puts the gateway CA init
// made into the host, where the gateway reads it, unless the host holds it already.
func newSeedCACommand() *cobra.Command {
	var kubeconfig, dir string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:    "seed-ca --kubeconfig HOST --ca-dir DIR",
		Short:  "Store the gateway CA of DIR (tls.crt, tls.key) in the host, where the gateway keeps it; never overwrite another",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			certPEM, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
			if err != nil {
				return fmt.Errorf("--ca-dir: %w", err)
			}
			keyPEM, err := os.ReadFile(filepath.Join(dir, "tls.key"))
			if err != nil {
				return fmt.Errorf("--ca-dir: %w", err)
			}
			ca, err := certs.ParseCA(certPEM, keyPEM)
			if err != nil {
				return fmt.Errorf("--ca-dir %s: %w", dir, err)
			}
			cfg, err := loadKubeconfig(kubeconfig, "")
			if err != nil {
				return err
			}
			host, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			return seedCA(cmd.Context(), cmd.OutOrStdout(), host, ca, timeout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the host control plane (the gateway's)")
	f.StringVar(&dir, "ca-dir", "", "directory with the gateway CA's tls.crt and tls.key")
	f.DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the host to answer")
	_ = cmd.MarkFlagRequired("ca-dir")
	return cmd
}

// seedCA retries certs.SeedCA while the host cannot be reached (it starts next to the gateway);
// another CA in the host is an error at once.
func seedCA(ctx context.Context, out io.Writer, host kubernetes.Interface, ca *certs.CA, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		created, err := certs.SeedCA(ctx, host, ca)
		switch {
		case err == nil && created:
			fmt.Fprintf(out, "stored the gateway CA in the host's secret %s/%s\n", certs.Namespace, certs.CASecretName)
			return nil
		case err == nil:
			fmt.Fprintf(out, "the host already holds this gateway CA (%s/%s)\n", certs.Namespace, certs.CASecretName)
			return nil
		case isPermanent(err):
			return err
		}
		fmt.Fprintf(out, "waiting for the host: %v\n", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("seed the gateway CA: the host did not answer within %s: %w", timeout, err)
		case <-time.After(2 * time.Second):
		}
	}
}

// isPermanent: errors that waiting does not mend (another CA, a refusal, an invalid object).
func isPermanent(err error) bool {
	return errors.Is(err, certs.ErrOtherCA) || apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err) || apierrors.IsInvalid(err)
}
