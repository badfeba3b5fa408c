package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/ptr"

	"github.com/fleetgate/fleetgate/apis/client"
	"github.com/fleetgate/fleetgate/apis/crds"
	"github.com/fleetgate/fleetgate/apis/scheme"
	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/bootstrap/access"
	"github.com/fleetgate/fleetgate/bootstrap/token"
	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/ha"
	"github.com/fleetgate/fleetgate/pipeline"
	"github.com/fleetgate/fleetgate/propagate/cache"
	"github.com/fleetgate/fleetgate/propagate/clusterstatus"
	"github.com/fleetgate/fleetgate/propagate/member"
	"github.com/fleetgate/fleetgate/propagate/reconcile"
	"github.com/fleetgate/fleetgate/proxy"
	"github.com/fleetgate/fleetgate/proxy/memberview"
	"github.com/fleetgate/fleetgate/webhook"
)

// serveOptions are the flags of `fleetgate serve`.
type serveOptions struct {
	Kubeconfig          string
	BindAddress         string
	SecurePort          int
	AdvertiseAddress    string
	TLSSANs             []string
	ClusterStatusPeriod time.Duration
	// ClusterProbeTimeout, ClusterFailureThreshold and ClusterSuccessThreshold: see clusterstatus.Options.
	ClusterProbeTimeout     time.Duration
	ClusterFailureThreshold time.Duration
	ClusterSuccessThreshold time.Duration
	// ClusterTokenRenewalFraction is --cluster-token-renewal-fraction: see
	// bootstrap.TokenRenewer.Fraction.
	ClusterTokenRenewalFraction float64
	AuthCacheTTL                time.Duration
	InstallCRDs                 bool
	Profiling                   bool
	MemberDryRun                bool
	DispatchTimeout             time.Duration
	Workers                     int
	// MemberView is --member-view: the member-native resources merged from the members.
	MemberView string
	// CertManagerIssuer is --cert-manager-issuer: <Issuer|ClusterIssuer>/<name>, or empty (the
	// gateway's CA signs Pull agents' certificates).
	CertManagerIssuer string
	// AgentCertificateLifetime is --agent-certificate-lifetime.
	AgentCertificateLifetime time.Duration
	// MaxRequestsInFlight, MaxMutatingRequestsInFlight and RequestBodyTimeout: see proxy.Limits.
	MaxRequestsInFlight         int
	MaxMutatingRequestsInFlight int
	RequestBodyTimeout          time.Duration
	// HostFrontProxyCertFile and HostFrontProxyKeyFile are the front-proxy client certificate the
	// gateway proxies to the host with (proxy.FrontProxy); empty: it impersonates.
	HostFrontProxyCertFile string
	HostFrontProxyKeyFile  string
	// AdvertisePort is --advertise-port: the port of AdvertiseAddress (0: SecurePort).
	AdvertisePort int
	// LeaderElect and its timing: see ha.Elector. PeerAddress is where the other replicas reach
	// this one (default: the advertise address).
	LeaderElect                                                                bool
	LeaderElectLeaseDuration, LeaderElectRenewDeadline, LeaderElectRetryPeriod time.Duration
	PeerAddress                                                                string
	// ExternalAddress is --external-address: host:port clients and agents outside the cluster use.
	ExternalAddress string
	// TLSCertFile and TLSPrivateKeyFile are a serving certificate kept by someone else (cert-manager).
	TLSCertFile, TLSPrivateKeyFile string
}

func newServeCommand() *cobra.Command {
	o := serveOptions{
		BindAddress:         "127.0.0.1",
		SecurePort:          7443,
		ClusterStatusPeriod: 10 * time.Second,
		// Karmada's defaults.
		ClusterProbeTimeout:         clusterstatus.DefaultTimeout,
		ClusterFailureThreshold:     clusterstatus.DefaultThreshold,
		ClusterSuccessThreshold:     clusterstatus.DefaultThreshold,
		ClusterTokenRenewalFraction: bootstrap.DefaultTokenRenewalFraction,
		AuthCacheTTL:                10 * time.Second,
		InstallCRDs:                 true,
		MemberDryRun:                true,
		DispatchTimeout:             2 * time.Second,
		Workers:                     8,
		AgentCertificateLifetime:    bootstrap.DefaultAgentLifetime,
		// kube-apiserver's defaults.
		MaxRequestsInFlight:         400,
		MaxMutatingRequestsInFlight: 200,
		RequestBodyTimeout:          30 * time.Second,
		LeaderElect:                 true,
		LeaderElectLeaseDuration:    ha.DefaultLeaseDuration,
		LeaderElectRenewDeadline:    ha.DefaultRenewDeadline,
		LeaderElectRetryPeriod:      ha.DefaultRetryPeriod,
		MemberView:                  "pods,nodes,endpoints,replicasets.apps,controllerrevisions.apps,endpointslices.discovery.k8s.io",
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
	f.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig of the host control plane: the gateway's own credential (needs to impersonate users unless --host-front-proxy-cert-file is set)")
	f.StringVar(&o.HostFrontProxyCertFile, "host-front-proxy-cert-file", "", "client certificate (PEM) with which the gateway proxies callers' requests to the host as an authenticating front proxy (X-Remote-User, -Uid, -Group, -Extra-*) instead of impersonating them. The host's kube-apiserver must run with --requestheader-client-ca-file=<the CA that signed it>, --requestheader-allowed-names=<its common name>, --requestheader-username-headers=X-Remote-User, --requestheader-uid-headers=X-Remote-Uid, --requestheader-group-headers=X-Remote-Group and --requestheader-extra-headers-prefix=X-Remote-Extra-; use a CA of its own, not the host's client CA. The host's CA and server come from --kubeconfig. Needs --host-front-proxy-key-file")
	f.StringVar(&o.HostFrontProxyKeyFile, "host-front-proxy-key-file", "", "private key (PEM) of --host-front-proxy-cert-file")
	f.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "address to listen on")
	f.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "HTTPS port to listen on")
	f.StringVar(&o.AdvertiseAddress, "advertise-address", o.AdvertiseAddress, "address (IP or DNS name, e.g. the gateway Service's) clients, registering agents and the host's admission webhook calls use to reach the gateway (added to the serving certificate; default: --bind-address, or 127.0.0.1 when that is unspecified)")
	f.IntVar(&o.AdvertisePort, "advertise-port", 0, "port of --advertise-address (e.g. the Service's 443; default: --secure-port)")
	f.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "elect one replica at a time, with a Lease in the host's "+certs.Namespace+", to run the controllers (reconciler, status, cluster status); every replica serves every request. false: this process runs them at once (one replica only)")
	f.DurationVar(&o.LeaderElectLeaseDuration, "leader-elect-lease-duration", o.LeaderElectLeaseDuration, "how long after the leader's last renewal another replica may take over")
	f.DurationVar(&o.LeaderElectRenewDeadline, "leader-elect-renew-deadline", o.LeaderElectRenewDeadline, "how long the leader keeps trying to renew before it stops leading (and exits, to be restarted); less than the lease duration")
	f.DurationVar(&o.LeaderElectRetryPeriod, "leader-elect-retry-period", o.LeaderElectRetryPeriod, "how often replicas try to acquire or renew the lead")
	f.StringVar(&o.PeerAddress, "peer-address", "", "address (IP or DNS name, e.g. the pod's IP) the other replicas reach this one at on --secure-port, for Pull members' tunnels held here and handoffs to the leader (added to the serving certificate; default: the advertise address)")
	f.StringSliceVar(&o.TLSSANs, "tls-san", nil, "extra DNS names or IPs for the serving certificate")
	f.StringVar(&o.ExternalAddress, "external-address", "", "host:port at which clients and members' agents outside the cluster reach the gateway (a load balancer's): the server cluster-info names, which register sends its certificate request to (added to the serving certificate; default: the advertise address and port)")
	f.StringVar(&o.TLSCertFile, "tls-cert-file", "", "serving certificate (PEM, chain) kept up to date by someone else, e.g. cert-manager's Secret mounted as files; re-read when the files change. It is served to clients asking (SNI) for a name it covers other than --advertise-address; the advertised name (the host's webhook calls), peers and clients without SNI get the certificate the gateway issues itself from its CA. Needs --tls-private-key-file")
	f.StringVar(&o.TLSPrivateKeyFile, "tls-private-key-file", "", "private key (PEM) of --tls-cert-file")
	f.DurationVar(&o.ClusterStatusPeriod, "cluster-status-period", o.ClusterStatusPeriod, "how often each member's health is probed")
	f.DurationVar(&o.ClusterProbeTimeout, "cluster-probe-timeout", o.ClusterProbeTimeout, "how long one probe of a member may take (independent of --cluster-status-period)")
	f.DurationVar(&o.ClusterFailureThreshold, "cluster-failure-threshold", o.ClusterFailureThreshold, "how long a Ready member must fail its probes without a break before it is marked Ready=False and tainted not-ready (0: at once)")
	f.DurationVar(&o.ClusterSuccessThreshold, "cluster-success-threshold", o.ClusterSuccessThreshold, "how long a not-ready member must pass its probes without a break before it is marked Ready=True again (0: at once)")
	f.Float64Var(&o.ClusterTokenRenewalFraction, "cluster-token-renewal-fraction", o.ClusterTokenRenewalFraction, "renew a Push member's tokens (from join) once this fraction of their lifetime has passed (0 < f < 1)")
	f.DurationVar(&o.AuthCacheTTL, "auth-cache-ttl", o.AuthCacheTTL, "how long TokenReview and SubjectAccessReview answers are cached")
	f.BoolVar(&o.MemberDryRun, "member-dry-run", o.MemberDryRun, "dry-run every write on its target members before committing it; a member's rejection fails the write")
	f.DurationVar(&o.DispatchTimeout, "dispatch-timeout", o.DispatchTimeout, "how long a write waits for the reconciler to dispatch its copies to the members before it returns (the reconciler goes on after)")
	f.IntVar(&o.Workers, "workers", o.Workers, "reconciler workers")
	f.StringVar(&o.CertManagerIssuer, "cert-manager-issuer", "", "sign Pull agents' certificates through cert-manager: <Issuer|ClusterIssuer>/<name>; CertificateRequests are created in "+certs.Namespace+" (an Issuer must be in that namespace too). Empty: the gateway's CA signs them")
	f.DurationVar(&o.AgentCertificateLifetime, "agent-certificate-lifetime", o.AgentCertificateLifetime, "lifetime of the certificates Pull agents get at registration and renewal; agents renew at 80% of it")
	f.StringVar(&o.MemberView, "member-view", o.MemberView, "member-native resources (resource[.group], comma-separated) that reads merge from the Ready members instead of reading the host; empty: none")
	f.IntVar(&o.MaxRequestsInFlight, "max-requests-inflight", o.MaxRequestsInFlight, "how many non-mutating requests (get, list; watches and other long-running requests are not counted) may be served at once; beyond it 429 (0: no limit; system:masters is exempt)")
	f.IntVar(&o.MaxMutatingRequestsInFlight, "max-mutating-requests-inflight", o.MaxMutatingRequestsInFlight, "how many mutating requests may be served at once; beyond it 429 (0: no limit; system:masters is exempt)")
	f.DurationVar(&o.RequestBodyTimeout, "request-body-timeout", o.RequestBodyTimeout, "how long the body of a request that is not long-running may take to arrive before the connection is cut (0: no limit)")
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
	for flag, a := range map[string]string{"--advertise-address": o.AdvertiseAddress, "--peer-address": o.PeerAddress} {
		if a != "" && net.ParseIP(a) == nil && len(validation.IsDNS1123Subdomain(a)) > 0 {
			errs = append(errs, fmt.Errorf("%s %q: neither an IP address nor a DNS name", flag, a))
		}
	}
	if o.AdvertisePort < 0 || o.AdvertisePort > 65535 {
		errs = append(errs, fmt.Errorf("--advertise-port %d: must be 0-65535", o.AdvertisePort))
	}
	if o.LeaderElect {
		if o.LeaderElectRetryPeriod <= 0 || o.LeaderElectRenewDeadline <= o.LeaderElectRetryPeriod || o.LeaderElectLeaseDuration <= o.LeaderElectRenewDeadline {
			errs = append(errs, fmt.Errorf("--leader-elect-lease-duration %s, --leader-elect-renew-deadline %s, --leader-elect-retry-period %s: need lease duration > renew deadline > retry period > 0",
				o.LeaderElectLeaseDuration, o.LeaderElectRenewDeadline, o.LeaderElectRetryPeriod))
		}
	}
	if o.ClusterStatusPeriod < time.Second {
		errs = append(errs, fmt.Errorf("--cluster-status-period %s: must be at least 1s", o.ClusterStatusPeriod))
	}
	if o.ClusterProbeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--cluster-probe-timeout %s: must be positive", o.ClusterProbeTimeout))
	}
	if o.ClusterFailureThreshold < 0 {
		errs = append(errs, fmt.Errorf("--cluster-failure-threshold %s: must not be negative", o.ClusterFailureThreshold))
	}
	if o.ClusterSuccessThreshold < 0 {
		errs = append(errs, fmt.Errorf("--cluster-success-threshold %s: must not be negative", o.ClusterSuccessThreshold))
	}
	if f := o.ClusterTokenRenewalFraction; !(f > 0 && f < 1) {
		errs = append(errs, fmt.Errorf("--cluster-token-renewal-fraction %v: must be greater than 0 and less than 1", f))
	}
	if o.DispatchTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--dispatch-timeout %s: must be positive", o.DispatchTimeout))
	}
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--workers %d: must be at least 1", o.Workers))
	}
	if o.AgentCertificateLifetime < time.Minute {
		errs = append(errs, fmt.Errorf("--agent-certificate-lifetime %s: must be at least 1m", o.AgentCertificateLifetime))
	}
	if o.CertManagerIssuer != "" {
		if _, _, err := bootstrap.ParseIssuer(o.CertManagerIssuer); err != nil {
			errs = append(errs, fmt.Errorf("--cert-manager-issuer: %w", err))
		}
	}
	if _, err := memberview.ParseResources(o.MemberView); err != nil {
		errs = append(errs, fmt.Errorf("--member-view: %w", err))
	}
	if o.MaxRequestsInFlight < 0 {
		errs = append(errs, fmt.Errorf("--max-requests-inflight %d: must not be negative", o.MaxRequestsInFlight))
	}
	if o.MaxMutatingRequestsInFlight < 0 {
		errs = append(errs, fmt.Errorf("--max-mutating-requests-inflight %d: must not be negative", o.MaxMutatingRequestsInFlight))
	}
	if o.RequestBodyTimeout < 0 {
		errs = append(errs, fmt.Errorf("--request-body-timeout %s: must not be negative", o.RequestBodyTimeout))
	}
	if (o.HostFrontProxyCertFile == "") != (o.HostFrontProxyKeyFile == "") {
		errs = append(errs, errors.New("--host-front-proxy-cert-file and --host-front-proxy-key-file: set both or neither"))
	}
	if (o.TLSCertFile == "") != (o.TLSPrivateKeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-private-key-file: set both or neither"))
	}
	if o.ExternalAddress != "" {
		host, port, err := net.SplitHostPort(o.ExternalAddress)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 || host == "" ||
			net.ParseIP(host) == nil && len(validation.IsDNS1123Subdomain(host)) > 0 {
			errs = append(errs, fmt.Errorf("--external-address %q: want host:port (an IP or DNS name and a port 1-65535)", o.ExternalAddress))
		}
	}
	if o.AuthCacheTTL < 0 {
		errs = append(errs, fmt.Errorf("--auth-cache-ttl %s: must not be negative", o.AuthCacheTTL))
	}
	return errors.Join(errs...)
}

// serveConfig is the completed configuration of the gateway.
//
// The gateway's clients of the host are split by caller, each with a client-side rate limiter of
// its own (hostClientQPS), so that no kind of caller can starve another: reviews (TokenReviews and
// SubjectAccessReviews, which a flood of bad tokens spends), the controllers (hostKube, hostDyn:
// cluster status and its credential reads, informers, the reconciler's reads, readiness), and the
// request path (requests: registration, renewal, the tunnel's Cluster checks, the cluster proxy's
// and member views' credential reads). Proxied requests go over proxied's transport, which has no
// client limiter (the host's own limits apply to them as to the caller).
type serveConfig struct {
	opts serveOptions
	host *rest.Config
	// proxied is the credential of the requests made for callers (the front door's host proxy, the
	// write pipeline): host itself, impersonating, or the front-proxy certificate (proxiedAs).
	proxied   *rest.Config
	proxiedAs proxy.Identity
	hostKube  kubernetes.Interface
	hostDyn   dynamic.Interface
	reviews   kubernetes.Interface
	requests  hostClient
	ca        *certs.CA
	serving   tls.Certificate
	// files is --tls-cert-file's certificate (nil without it).
	files     *certs.FileCertificate
	listener  net.Listener
	readiness atomic.Pointer[error]
}

func (o *serveOptions) complete(ctx context.Context) (*serveConfig, error) {
	host, err := loadKubeconfig(o.Kubeconfig, "")
	if err != nil {
		return nil, err
	}
	c := &serveConfig{opts: *o, host: host, proxied: host, proxiedAs: proxy.Impersonate}
	if o.HostFrontProxyCertFile != "" {
		if c.proxied, err = frontProxyConfig(host, o.HostFrontProxyCertFile, o.HostFrontProxyKeyFile); err != nil {
			return nil, err
		}
		c.proxiedAs = proxy.FrontProxy
	}
	controllers, err := newHostClient(host)
	if err != nil {
		return nil, err
	}
	c.hostKube, c.hostDyn = controllers.kube, controllers.dyn
	reviews, err := newHostClient(host)
	if err != nil {
		return nil, err
	}
	c.reviews = reviews.kube
	if c.requests, err = newHostClient(host); err != nil {
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
	if o.TLSCertFile != "" {
		if c.files, err = certs.NewFileCertificate(o.TLSCertFile, o.TLSPrivateKeyFile); err != nil {
			return nil, fmt.Errorf("--tls-cert-file: %w", err)
		}
	}
	addr := net.JoinHostPort(o.BindAddress, strconv.Itoa(o.SecurePort))
	if c.listener, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return c, nil
}

// frontProxyConfig is host (its server and CA) with the front-proxy client certificate as its only
// credential.
func frontProxyConfig(host *rest.Config, certFile, keyFile string) (*rest.Config, error) {
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return nil, fmt.Errorf("--host-front-proxy-cert-file %s, --host-front-proxy-key-file %s: %w", certFile, keyFile, err)
	}
	cfg := rest.AnonymousClientConfig(host)
	cfg.CertFile, cfg.KeyFile = certFile, keyFile
	return cfg, nil
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
	external, _, _ := net.SplitHostPort(o.ExternalAddress)
	for _, s := range append([]string{o.BindAddress, o.AdvertiseAddress, o.PeerAddress, external}, o.TLSSANs...) {
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
	authn, err := proxy.NewAuthenticator(c.ca.Pool(), c.reviews.AuthenticationV1(), c.opts.AuthCacheTTL)
	if err != nil {
		return err
	}
	authz, err := proxy.NewAuthorizer(c.reviews.AuthorizationV1(), c.opts.AuthCacheTTL)
	if err != nil {
		return err
	}
	hostAccess := access.NewHost(client.Clusters(c.hostDyn), c.hostKube)
	hostAccess.QPS, hostAccess.Burst = reconcile.DefaultMemberQPS, reconcile.DefaultMemberBurst
	// The cluster proxy and the member views read members' credentials on the request path.
	requestAccess := access.NewHost(client.Clusters(c.requests.dyn), c.requests.kube)
	requestAccess.QPS, requestAccess.Burst = hostAccess.QPS, hostAccess.Burst
	// Renewals of Push members' tokens are events on their Clusters.
	events := record.NewBroadcaster(record.WithContext(ctx))
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.hostKube.CoreV1().Events("")})
	defer events.Shutdown()
	eventScheme, err := scheme.New()
	if err != nil {
		return err
	}
	status := clusterstatus.New(c.hostDyn, hostAccess, clusterstatus.Options{
		Period: c.opts.ClusterStatusPeriod, Timeout: c.opts.ClusterProbeTimeout,
		FailureThreshold: ptr.To(c.opts.ClusterFailureThreshold), SuccessThreshold: ptr.To(c.opts.ClusterSuccessThreshold),
		Renewer:  &bootstrap.TokenRenewer{Secrets: c.hostKube, Access: reloadBoth{hostAccess, requestAccess}, Fraction: c.opts.ClusterTokenRenewalFraction},
		Recorder: events.NewRecorder(eventScheme, corev1.EventSource{Component: "fleetgate-cluster-status"}),
	})
	objects := cache.New(c.hostDyn)
	// Agent certificates come from the gateway's CA, or from cert-manager, whose issuer's CA the
	// tunnel then trusts for agents too (never the front door).
	var signer bootstrap.Signer = bootstrap.CASigner{CA: c.ca, Lifetime: c.opts.AgentCertificateLifetime}
	trusted := func() []*x509.CertPool { return []*x509.CertPool{c.ca.Pool()} }
	var certManager *bootstrap.CertManagerSigner
	if c.opts.CertManagerIssuer != "" {
		kind, name, _ := bootstrap.ParseIssuer(c.opts.CertManagerIssuer) // checked by validate
		certManager = &bootstrap.CertManagerSigner{Client: c.requests.dyn, Namespace: certs.Namespace, IssuerKind: kind, IssuerName: name, Lifetime: c.opts.AgentCertificateLifetime}
		signer = certManager
		trusted = func() []*x509.CertPool { return []*x509.CertPool{c.ca.Pool(), certManager.Trusted()} }
	}
	// With leader election, this replica announces itself to its peers, and its peers' calls (to
	// the tunnels held here, and handoffs to the leader) are authenticated by peer certificates.
	var (
		elector  *ha.Elector
		replicas *ha.Replicas
		peers    *ha.Peers
		holders  *ha.HolderRecorder
	)
	if c.opts.LeaderElect {
		// Election and announcements have a client of their own: no other caller may starve them.
		election, err := newHostClient(c.host)
		if err != nil {
			return err
		}
		id := ha.NewReplicaID()
		replicas = ha.NewReplicas(election.kube, certs.Namespace, id, c.peerURL(), 0)
		if peers, err = ha.NewPeers(replicas, c.ca); err != nil {
			return err
		}
		if elector, err = ha.NewElector(ha.ElectorOptions{Kube: election.kube, Namespace: certs.Namespace, ID: id,
			LeaseDuration: c.opts.LeaderElectLeaseDuration, RenewDeadline: c.opts.LeaderElectRenewDeadline, RetryPeriod: c.opts.LeaderElectRetryPeriod}); err != nil {
			return err
		}
		logger(ctx).Info("Replica", "id", id, "peerURL", replicas.URL())
	}
	// Pull members' agents open their tunnels here; the cluster comes from the verified agent
	// certificate, and only a Pull Cluster that is not being deleted may have one.
	tunnels, err := tunnel.NewServer(tunnel.ServerOptions{
		Changed: func(cluster string) {
			if holders != nil {
				holders.Changed(cluster)
			}
		},
		TrustedCAs: trusted,
		// A registered Pull Cluster, not being deleted, that admits the certificate (issued for
		// this Cluster object, not a predecessor of the same name).
		Allower: bootstrap.PullAllower{Lookup: objects.Cluster, Live: client.Clusters(c.requests.dyn)},
	})
	if err != nil {
		return err
	}
	// Every replica reaches every Pull member: through its own tunnel, or the replica holding it
	// (the Cluster names it).
	tunnelHolder := func(name string) string {
		if cl, ok := objects.Cluster(name); ok {
			return cl.Annotations[ha.TunnelReplicaAnnotation]
		}
		return ""
	}
	var memberTunnels access.Tunnels = tunnels
	if elector != nil {
		holders = ha.NewHolderRecorder(c.requests.dyn, replicas.ID(), tunnels)
		memberTunnels = &ha.Tunnels{Local: tunnels, Peers: peers, Self: replicas.ID(), Holder: tunnelHolder}
	}
	hostAccess.Tunnels = memberTunnels
	requestAccess.Tunnels = memberTunnels
	// A Cluster deleted (or being deleted) loses its tunnel at once; Allowed refuses it from then on.
	closeTunnel := func(obj any) {
		if u, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = u.Obj
		}
		if m, err := meta.Accessor(obj); err == nil {
			tunnels.Close(m.GetName())
		}
	}
	if _, err := objects.Informer(cache.ClustersGVR).AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if m, err := meta.Accessor(obj); err == nil && m.GetDeletionTimestamp() != nil {
				closeTunnel(obj)
			}
		},
		DeleteFunc: closeTunnel,
	}); err != nil {
		return err
	}
	members := member.NewClients(hostAccess)
	// The reconciler writes template metadata and bindings at a high rate after a restart.
	fast := rest.CopyConfig(c.host)
	fast.QPS, fast.Burst = 1000, 2000
	reconcilerHost, err := dynamic.NewForConfig(fast)
	if err != nil {
		return err
	}
	// One discovery-backed mapper for the reconciler and the pipeline's "could any policy claim
	// this kind" check; it resets itself when it meets a kind it does not know.
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.hostKube.Discovery()))
	metrics := proxy.NewMetrics()
	// leading is closed once this replica runs the controllers; nil without leader election: at once.
	var leading <-chan struct{}
	if elector != nil {
		leading = elector.Leading()
	}
	reconciler := reconcile.New(reconcile.Options{
		Host: reconcilerHost, Kube: c.hostKube, Cache: objects, Members: members, Workers: c.opts.Workers, Mapper: mapper,
		QueueMetrics: metrics.QueueMetrics(), Leading: leading,
	})
	// The bootstrap-token Secrets, for cluster-info's signatures.
	tokenInformers := informers.NewSharedInformerFactoryWithOptions(c.hostKube, 0, informers.WithNamespace(token.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("type", string(bootstrapapi.SecretTypeBootstrapToken)).String()
		}))
	tokenLister := tokenInformers.Core().V1().Secrets().Lister()
	tokenSecrets := func() []*corev1.Secret {
		l, _ := tokenLister.List(labels.Everything())
		return l
	}
	// The write pipeline hands committed templates to the leader's reconciler, here or on a peer.
	var writesReconciler pipeline.Reconciler = reconciler
	// Renewals reach the agent's sessions on whichever replica holds them.
	var agents bootstrap.AgentAuthenticator = tunnels
	if elector != nil {
		agents = &ha.Agents{AgentTunnels: tunnels, Holder: tunnelHolder, Peers: peers, Self: replicas.ID()}
	}
	public := c.publicHandlers(tokenSecrets, tunnels, agents, signer)
	if elector != nil {
		writesReconciler = &ha.Reconciler{Local: reconciler, Elector: elector, Peers: peers}
		for path, h := range (&ha.PeerHandlers{Roots: c.ca.Pool(), Tunnels: tunnels, Reconciler: reconciler, Elector: elector}).Handlers() {
			public[path] = h
		}
	}
	viewResources, err := memberview.ParseResources(c.opts.MemberView)
	if err != nil {
		return err
	}
	// The write pipeline's dry runs and commits go to the host as the caller, as the front door's.
	hostCaller, err := proxy.NewCaller(c.proxied, c.proxiedAs)
	if err != nil {
		return err
	}
	notYet := errors.New("starting")
	c.readiness.Store(&notYet)
	h, err := proxy.NewHandler(proxy.Config{
		Host:          c.proxied,
		HostIdentity:  c.proxiedAs,
		Authenticator: authn,
		Authorizer:    authz,
		Ready: func() error {
			// The cluster-status controller runs on the leader only: the shared cache has the Clusters.
			if !objects.HasSynced() || !reconciler.HasSynced() {
				return errors.New("caches not synced")
			}
			return *c.readiness.Load()
		},
		Metrics:  metrics,
		Clusters: requestAccess,
		MemberView: &proxy.MemberViewConfig{
			Members:   objects.Clusters,
			Owners:    reconciler,
			Resources: viewResources,
			KindFor:   mapper.KindFor,
		},
		Profiling: c.opts.Profiling,
		Limits: proxy.Limits{
			MaxRequestsInFlight: c.opts.MaxRequestsInFlight, MaxMutatingRequestsInFlight: c.opts.MaxMutatingRequestsInFlight,
			BodyReadTimeout: c.opts.RequestBodyTimeout,
		},
		Public: public,
		Authenticated: map[string]http.Handler{
			bootstrap.RegisterPath: &bootstrap.Registrar{Clusters: client.Clusters(c.requests.dyn), Signer: signer},
		},
		Writes: pipeline.New(pipeline.Config{
			Host: hostCaller, Cache: objects, Kinds: mapper, Observer: objects, Clients: members, Reconciler: writesReconciler, Namespaces: reconciler,
			MemberDryRun: c.opts.MemberDryRun, HandoffTimeout: c.opts.DispatchTimeout, ObserveStage: metrics.ObserveWriteStage,
		}),
	})
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	objects.Start(ctx)
	tokenInformers.Start(ctx.Done())
	if certManager != nil {
		g.Go(func() error {
			// Agents with certificates from before this start are refused until this has run.
			err := wait.PollUntilContextCancel(ctx, 2*time.Second, true, func(ctx context.Context) (bool, error) {
				if err := certManager.LoadTrusted(ctx); err != nil {
					logger(ctx).Error(err, "Reading the CAs of issued agent certificates failed; retrying")
					return false, nil
				}
				return true, nil
			})
			if ctx.Err() != nil {
				return nil
			}
			return err
		})
	}
	// afterLead runs f once this replica leads (at once without leader election).
	afterLead := func(f func() error) func() error {
		return func() error {
			if leading != nil {
				select {
				case <-leading:
				case <-ctx.Done():
					return nil
				}
			}
			return f()
		}
	}
	g.Go(afterLead(func() error { return status.Run(ctx) }))
	g.Go(func() error { return reconciler.Run(ctx) }) // its caches at once, its workers once leading
	if elector != nil {
		g.Go(func() error { return replicas.Run(ctx) })
		g.Go(func() error { holders.Run(ctx); return nil })
	}
	g.Go(func() error { c.watchHost(ctx); return nil })
	if c.files != nil {
		g.Go(func() error { c.files.Run(ctx); return nil })
	}
	g.Go(func() error {
		logger(ctx).Info("Serving", "address", "https://"+c.listener.Addr().String(), "host", c.host.Host, "frontProxy", c.proxiedAs == proxy.FrontProxy)
		return proxy.Serve(ctx, c.listener, h, c.certificate, c.ca.Pool())
	})
	// The host calls the policy webhook at the advertised address: the leader registers it (with
	// several replicas the advertised address is their Service's).
	g.Go(afterLead(func() error {
		if err := webhook.Register(ctx, c.hostKube, c.advertiseURL(), c.ca.CertPEM()); err != nil {
			return fmt.Errorf("register the policy admission webhook: %w", err)
		}
		return nil
	}))
	if elector == nil {
		return g.Wait()
	}
	// The election outlives the controllers: the Lease is released (a graceful handover) only
	// once they have stopped, so that two replicas never write at once. Losing the lead while
	// running stops this process, to be restarted, as kube-controller-manager does.
	electCtx, stopElection := context.WithCancel(context.WithoutCancel(ctx))
	elected := make(chan error, 1)
	go func() { elected <- elector.Run(electCtx) }()
	g.Go(func() error {
		select {
		case err := <-elected:
			elected <- err
			return err
		case <-ctx.Done():
			return nil
		}
	})
	err = g.Wait()
	stopElection()
	if lost := <-elected; lost != nil && err == nil {
		err = lost
	}
	return err
}

// certificate picks the serving certificate for a client hello: --tls-cert-file's when the client
// asks (SNI) for a name it covers other than the advertised one, else the one the gateway issued
// itself (the advertised name is what the host's webhook calls use, with the gateway CA as their
// CA bundle; peers dial IPs, which send no SNI).
func (c *serveConfig) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c.files != nil && hello.ServerName != "" && hello.ServerName != c.advertise() {
		if cert, err := c.files.Get(); err == nil && hello.SupportsCertificate(cert) == nil {
			return cert, nil
		}
	}
	return &c.serving, nil
}

// clusterInfoURL is the server cluster-info names: the external address, else the advertised one.
func (c *serveConfig) clusterInfoURL() string {
	if c.opts.ExternalAddress != "" {
		return "https://" + c.opts.ExternalAddress
	}
	return c.advertiseURL()
}

// advertiseURL is the URL clients, agents and the host's webhook calls reach the gateway at.
func (c *serveConfig) advertiseURL() string {
	port := c.opts.AdvertisePort
	if port == 0 {
		port = c.opts.SecurePort
	}
	return "https://" + net.JoinHostPort(c.advertise(), strconv.Itoa(port))
}

// peerURL is the URL the other replicas reach this one at.
func (c *serveConfig) peerURL() string {
	addr := c.opts.PeerAddress
	if addr == "" {
		addr = c.advertise()
	}
	return "https://" + net.JoinHostPort(addr, strconv.Itoa(c.opts.SecurePort))
}

// publicHandlers are the paths served without the front door's authentication: the admission
// webhooks the host calls, the cluster-info registering members read, and the tunnel and renewal
// endpoints (which authenticate agents by their certificates themselves).
func (c *serveConfig) publicHandlers(tokenSecrets func() []*corev1.Secret, tunnels *tunnel.Server, agents bootstrap.AgentAuthenticator, signer bootstrap.Signer) map[string]http.Handler {
	h := webhook.Handlers()
	h[tunnel.Path] = tunnels                                                                                               // it verifies the agent's certificate itself
	h[bootstrap.RenewPath] = &bootstrap.Renewer{Agents: agents, Signer: signer, Clusters: client.Clusters(c.requests.dyn)} // as the tunnel does
	server := c.clusterInfoURL()
	h[token.ClusterInfoPath] = token.ClusterInfoHandler(server, c.ca.CertPEM(), tokenSecrets, time.Now)
	return h
}

// hostClientQPS and hostClientBurst are each host client's rate limit (serveConfig).
const (
	hostClientQPS   = 200
	hostClientBurst = 400
)

// hostClient is a typed and a dynamic client of the host sharing one client-side rate limiter.
type hostClient struct {
	kube kubernetes.Interface
	dyn  dynamic.Interface
}

func newHostClient(host *rest.Config) (hostClient, error) {
	cfg := rest.CopyConfig(host)
	cfg.QPS, cfg.Burst = hostClientQPS, hostClientBurst
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return hostClient{}, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return hostClient{}, err
	}
	return hostClient{kube: kube, dyn: dyn}, nil
}

// advertise is the address the host and clients use to reach the gateway.
func (c *serveConfig) advertise() string {
	if c.opts.AdvertiseAddress != "" {
		return c.opts.AdvertiseAddress
	}
	if ip := net.ParseIP(c.opts.BindAddress); ip != nil && !ip.IsUnspecified() {
		return c.opts.BindAddress
	}
	return "127.0.0.1"
}

// reloadBoth is the controllers' member access (through which renewals reach the member) that
// also tells the request path's member clients when a cluster's tokens were renewed.
type reloadBoth struct {
	*access.Host
	requests *access.Host
}

func (r reloadBoth) Reload(cluster string) {
	r.Host.Reload(cluster)
	r.requests.Reload(cluster)
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
