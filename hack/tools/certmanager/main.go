// Command cert-manager-controller runs three of cert-manager's real controllers against one cluster, so
// that tests (localenv's Options.CertManager) get CertificateRequests signed by a CA ClusterIssuer the
// way a real cert-manager installation signs them.
//
// Why it exists: cert-manager's own controller binary lives in the cmd/controller module of the
// cert-manager repository, which the Go module proxy does not serve (only the root module
// github.com/cert-manager/cert-manager is). The controllers themselves are in the root module's public
// packages and register themselves with pkg/controller when imported, so this small main imports the
// ones we need and runs them the way cmd/controller/app does:
//
//   - clusterissuers: validates ClusterIssuers (for a CA issuer, that spec.ca.secretName names a
//     kubernetes.io/tls Secret in --cluster-resource-namespace) and sets their Ready condition;
//   - certificaterequests-approver: approves every CertificateRequest (no policy engine here);
//   - certificaterequests-issuer-ca: signs approved CertificateRequests whose issuerRef is a CA
//     Issuer or ClusterIssuer.
//
// Nothing else runs: no Certificate, ACME, webhook, cainjector or metrics server, and no leader
// election (one process per cluster; localenv supervises it). It exits on SIGTERM or SIGINT, after
// its workers have finished what they were doing.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"k8s.io/klog/v2"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// Each of these registers its controller (or, for pkg/issuer/ca, the CA issuer implementation the
	// clusterissuers controller checks) in an init function.
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
)

// controllers are the names the packages above register (their ControllerName / CRControllerName).
var controllers = []string{"clusterissuers", "certificaterequests-approver", "certificaterequests-issuer-ca"}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster to run against (required)")
	clusterResourceNamespace := flag.String("cluster-resource-namespace", "cert-manager",
		"namespace of the Secrets that ClusterIssuers refer to")
	workers := flag.Int("workers", 5, "worker goroutines per controller")
	qps := flag.Float64("kube-api-qps", 20, "client-side QPS limit (used when the apiserver has no API Priority and Fairness)")
	burst := flag.Int("kube-api-burst", 50, "client-side burst limit")
	klog.InitFlags(nil) // -v, …
	flag.Parse()
	if *kubeconfig == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: cert-manager-controller --kubeconfig FILE [--cluster-resource-namespace NS] [-v N]")
		os.Exit(2)
	}
	logf.InitLogs()
	defer logf.FlushLogs()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, controllerpkg.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   float32(*qps),
		KubernetesAPIBurst: *burst,
		IssuerOptions:      controllerpkg.IssuerOptions{ClusterResourceNamespace: *clusterResourceNamespace},
	}, *workers); err != nil {
		klog.ErrorS(err, "cert-manager-controller failed")
		logf.FlushLogs()
		os.Exit(1)
	}
}

func run(ctx context.Context, opts controllerpkg.ContextOptions, workers int) error {
	log := logf.Log.WithName("cert-manager-controller")
	ctx = logf.NewContext(ctx, log)
	factory, err := controllerpkg.NewContextFactory(ctx, opts)
	if err != nil {
		return fmt.Errorf("controller context: %w", err)
	}
	// Every Context the factory builds shares the same informer factories; this one is only used to
	// start them once the controllers have asked for their informers.
	base, err := factory.Build()
	if err != nil {
		return fmt.Errorf("controller context: %w", err)
	}

	// Constructing a controller registers its informers (and event handlers) with the shared
	// factories; they must all be constructed before the factories start.
	ctrls := make(map[string]controllerpkg.Interface, len(controllers))
	for _, name := range controllers {
		newController, ok := controllerpkg.Known()[name]
		if !ok {
			return fmt.Errorf("controller %q is not registered", name)
		}
		c, err := newController(factory)
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		ctrls[name] = c
	}

	var wg sync.WaitGroup
	for name, c := range ctrls {
		wg.Go(func() {
			log.Info("starting controller", "controller", name)
			// Run waits for its informers' caches (forever: an informer whose list fails, e.g. for a
			// missing CRD, retries), then works until ctx ends. Its only error is ctx ending first.
			if err := c.Run(workers, ctx); err != nil && ctx.Err() == nil {
				log.Error(err, "controller stopped", "controller", name)
			}
		})
	}
	base.SharedInformerFactory.Start(ctx.Done())
	base.KubeSharedInformerFactory.Start(ctx.Done())
	<-ctx.Done()
	log.Info("stopping")
	wg.Wait()
	return nil
}
