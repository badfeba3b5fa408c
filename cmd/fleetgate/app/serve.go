package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/apis/client"
	"github.com/fleetgate/fleetgate/apis/crds"
	"github.com/fleetgate/fleetgate/bootstrap/access"
	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/propagate/clusterstatus"
	"github.com/fleetgate/fleetgate/proxy"
)

// serveOptions are the flags of `fleetgate serve`.
type serveOptions struct {
	Kubeconfig          string
	BindAddress         string
	SecurePort          int
	AdvertiseAddress    string
	TLSSANs             []string
	ClusterStatusPeriod time.Duration
	AuthCacheTTL        time.Duration
	InstallCRDs         bool
	Profiling           bool
}

func newServeCommand() *cobra.Command {
	o := serveOptions{
		BindAddress:         "127.0.0.1",
		SecurePort:          7443,
		ClusterStatusPeriod: 10 * time.Second,
		AuthCacheTTL:        10 * time.Second,
		InstallCRDs:         true,
	}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway: the TLS front door to the host control plane and its controllers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			cfg, err := o.complete(cmd.Context())
			if err != nil {
				return err
			}
			return cfg.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig of the host control plane: the gateway's own credential (needs to impersonate users)")
	f.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "address to listen on")
	f.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "HTTPS port to listen on")
	f.StringVar(&o.AdvertiseAddress, "advertise-address", o.AdvertiseAddress, "address clients use to reach the gateway (added to the serving certificate)")
	f.StringSliceVar(&o.TLSSANs, "tls-san", nil, "extra DNS names or IPs for the serving certificate")
	f.DurationVar(&o.ClusterStatusPeriod, "cluster-status-period", o.ClusterStatusPeriod, "how often each member's health is probed")
	f.DurationVar(&o.AuthCacheTTL, "auth-cache-ttl", o.AuthCacheTTL, "how long TokenReview and SubjectAccessReview answers are cached")
	f.BoolVar(&o.Profiling, "profiling", false, "serve /debug/pprof/ to authenticated callers")
	f.BoolVar(&o.InstallCRDs, "install-crds", o.InstallCRDs, "install or upgrade fleetgate's CRDs in the host at start")
	return cmd
}

func (o *serveOptions) validate() error {
	var errs []error
	if o.SecurePort < 1 || o.SecurePort > 65535 {
		errs = append(errs, fmt.Errorf("--secure-port %d: must be 1-65535", o.SecurePort))
	}
	if net.ParseIP(o.BindAddress) == nil {
		errs = append(errs, fmt.Errorf("--bind-address %q: not an IP address", o.BindAddress))
	}
	if o.AdvertiseAddress != "" && net.ParseIP(o.AdvertiseAddress) == nil {
		errs = append(errs, fmt.Errorf("--advertise-address %q: not an IP address", o.AdvertiseAddress))
	}
	if o.ClusterStatusPeriod < time.Second {
		errs = append(errs, fmt.Errorf("--cluster-status-period %s: must be at least 1s", o.ClusterStatusPeriod))
	}
	if o.AuthCacheTTL < 0 {
		errs = append(errs, fmt.Errorf("--auth-cache-ttl %s: must not be negative", o.AuthCacheTTL))
	}
	return errors.Join(errs...)
}

// serveConfig is the completed configuration of the gateway.
type serveConfig struct {
	opts      serveOptions
	host      *rest.Config
	hostKube  kubernetes.Interface
	hostDyn   dynamic.Interface
	ca        *certs.CA
	serving   tls.Certificate
	listener  net.Listener
	readiness atomic.Pointer[error]
}

func (o *serveOptions) complete(ctx context.Context) (*serveConfig, error) {
	host, err := loadKubeconfig(o.Kubeconfig, "")
	if err != nil {
		return nil, err
	}
	host.QPS, host.Burst = 200, 400
	c := &serveConfig{opts: *o, host: host}
	if c.hostKube, err = kubernetes.NewForConfig(host); err != nil {
		return nil, err
	}
	if c.hostDyn, err = dynamic.NewForConfig(host); err != nil {
		return nil, err
	}
	if o.InstallCRDs {
		if err := crds.InstallWithClient(ctx, c.hostDyn); err != nil {
			return nil, fmt.Errorf("install CRDs in the host: %w", err)
		}
	}
	if c.ca, err = certs.EnsureCA(ctx, c.hostKube); err != nil {
		return nil, err
	}
	if c.serving, err = servingCert(c.ca, o); err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(o.BindAddress, strconv.Itoa(o.SecurePort))
	if c.listener, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return c, nil
}

// servingCert issues the gateway's serving certificate: 127.0.0.1, localhost, the bind and
// advertise addresses and every --tls-san.
func servingCert(ca *certs.CA, o *serveOptions) (tls.Certificate, error) {
	r := certs.Request{
		CommonName: "fleetgate-gateway",
		DNSNames:   []string{"localhost"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, s := range append([]string{o.BindAddress, o.AdvertiseAddress}, o.TLSSANs...) {
		switch ip := net.ParseIP(s); {
		case s == "":
		case ip != nil && !ip.IsUnspecified():
			r.IPs = append(r.IPs, ip)
		case ip == nil:
			r.DNSNames = append(r.DNSNames, s)
		}
	}
	certPEM, keyPEM, err := ca.Issue(r)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(append(certPEM, ca.CertPEM()...), keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("serving certificate: %w", err)
	}
	return cert, nil
}

func (c *serveConfig) run(ctx context.Context) error {
	authn, err := proxy.NewAuthenticator(c.ca.Pool(), c.hostKube.AuthenticationV1(), c.opts.AuthCacheTTL)
	if err != nil {
		return err
	}
	authz, err := proxy.NewAuthorizer(c.hostKube.AuthorizationV1(), c.opts.AuthCacheTTL)
	if err != nil {
		return err
	}
	status := clusterstatus.New(c.hostDyn, access.NewHost(client.Clusters(c.hostDyn), c.hostKube),
		clusterstatus.Options{Period: c.opts.ClusterStatusPeriod})
	notYet := errors.New("starting")
	c.readiness.Store(&notYet)
	h, err := proxy.NewHandler(proxy.Config{
		Host:          c.host,
		Authenticator: authn,
		Authorizer:    authz,
		Ready: func() error {
			if !status.HasSynced() {
				return errors.New("cluster cache not synced")
			}
			return *c.readiness.Load()
		},
		Metrics:   proxy.NewMetrics(),
		Profiling: c.opts.Profiling,
	})
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return status.Run(ctx) })
	g.Go(func() error { c.watchHost(ctx); return nil })
	g.Go(func() error {
		logger(ctx).Info("Serving", "address", "https://"+c.listener.Addr().String(), "host", c.host.Host)
		return proxy.Serve(ctx, c.listener, h, c.serving, c.ca.Pool())
	})
	return g.Wait()
}

// watchHost keeps the readiness error current: the gateway is ready while the host's /readyz is.
func (c *serveConfig) watchHost(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.hostKube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(cctx)
		cancel()
		if err != nil {
			err = fmt.Errorf("host control plane not ready: %w", err)
		}
		c.readiness.Store(&err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
