package localenv

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fleetgate/fleetgate/certs"
)

const gatewayKubeconfigFile = "gateway.kubeconfig"

// StartGateway starts `<bin>/fleetgate serve` against the host, always on the same port, with
// Options.GatewayArgs and then extraArgs appended, and waits until its /readyz answers 200 over TLS
// verified with the gateway CA. The first time, it reads (or creates) that CA in the host with
// certs.EnsureCA, racing the gateway harmlessly, and writes gateway.kubeconfig.
func (e *Env) StartGateway(ctx context.Context, extraArgs ...string) error {
	began := time.Now()
	if err := checkBinary(e.BinDir, binFleetgate); err != nil {
		return err
	}
	e.mu.Lock()
	if e.gateway != nil && e.gateway.running() {
		e.mu.Unlock()
		return fmt.Errorf("start gateway: already running as pid %d", e.gateway.pid())
	}
	p := &process{
		name:    "gateway",
		path:    filepath.Join(e.BinDir, binFleetgate),
		args:    gatewayArgs(e.Host.layout, e.gatewayPort, append(slices.Clone(e.opts.GatewayArgs), extraArgs...)...),
		logPath: filepath.Join(e.Dir, "logs", "gateway.log"),
	}
	e.gateway = p
	e.mu.Unlock()
	if err := p.start(); err != nil {
		return err
	}
	if err := e.ensureGatewayClient(ctx); err != nil {
		return err
	}
	url := "https://" + hostPort(e.gatewayPort)
	err := waitFor(ctx, "gateway /readyz", gatewayTimeout, []*process{p}, func(ctx context.Context) error {
		return checkReadyz(ctx, e.gatewayHTTP, url)
	})
	if err != nil {
		return err
	}
	e.printf("gateway ready at %s in %s", url, time.Since(began).Round(100*time.Millisecond))
	return nil
}

// writeGatewayHostKubeconfig writes the gateway's credential for the host: a client certificate from
// the host CA for GatewayHostUser in system:masters.
func (e *Env) writeGatewayHostKubeconfig() error {
	kc, err := clientKubeconfig(e.Host.CA, hostName, e.Host.Server, GatewayHostUser)
	if err != nil {
		return fmt.Errorf("gateway host credential: %w", err)
	}
	return kc.Write(e.Host.layout.path(gatewayHostKubeconfig))
}

// ensureGatewayClient reads the gateway CA from the host and writes gateway.kubeconfig, once.
func (e *Env) ensureGatewayClient(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gatewayHTTP != nil {
		return nil
	}
	ca, err := certs.EnsureCA(ctx, e.Host.client)
	if err != nil {
		return fmt.Errorf("gateway CA: %w", err)
	}
	url := "https://" + hostPort(e.gatewayPort)
	crt, key, err := ca.Issue(certs.Request{
		CommonName:   GatewayAdminUser,
		Organization: []string{"system:masters"},
		Usages:       []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("gateway admin certificate: %w", err)
	}
	kc := certs.Kubeconfig{Name: "fleetgate", Server: url, CAPEM: ca.CertPEM(), CertPEM: crt, KeyPEM: key}
	path := filepath.Join(e.Dir, gatewayKubeconfigFile)
	if err := kc.Write(path); err != nil {
		return err
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*kc.Build(), nil).ClientConfig()
	if err != nil {
		return fmt.Errorf("gateway client config: %w", err)
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("gateway HTTP client: %w", err)
	}
	e.GatewayURL, e.GatewayKubeconfig, e.GatewayConfig, e.gatewayHTTP = url, path, cfg, httpClient
	return nil
}

// KillGateway sends SIGKILL to the gateway (like `kill -9`) and waits until it is gone.
func (e *Env) KillGateway() error {
	return e.stopGateway(context.Background(), 0)
}

// StopGateway stops the gateway gracefully (SIGTERM, SIGKILL after a grace period or when ctx ends).
func (e *Env) StopGateway(ctx context.Context) error {
	return e.stopGateway(ctx, stopGrace)
}

func (e *Env) stopGateway(ctx context.Context, grace time.Duration) error {
	e.mu.Lock()
	p := e.gateway
	e.mu.Unlock()
	if p == nil || !p.running() {
		return fmt.Errorf("stop gateway: not running")
	}
	p.stop(ctx, grace)
	return nil
}

// StartGatewayReplica starts replica i (i ≥ 1) of the gateway: another `fleetgate serve` against the
// same host, with the flags StartGateway uses, on a port of its own (the same for every start of
// i), and waits until its /readyz answers. It returns the replica's URL. StartGateway must have
// run once (it sets up the gateway CA and kubeconfig the replicas share).
func (e *Env) StartGatewayReplica(ctx context.Context, i int, extraArgs ...string) (string, error) {
	if i < 1 {
		return "", fmt.Errorf("start gateway replica %d: replicas are numbered from 1 (0 is StartGateway's)", i)
	}
	e.mu.Lock()
	if e.gatewayHTTP == nil {
		e.mu.Unlock()
		return "", fmt.Errorf("start gateway replica %d: start the gateway first", i)
	}
	if p := e.replicas[i]; p != nil && p.running() {
		e.mu.Unlock()
		return "", fmt.Errorf("start gateway replica %d: already running as pid %d", i, p.pid())
	}
	port, ok := e.replicaPorts[i]
	if !ok {
		ports, err := freePorts(1)
		if err != nil {
			e.mu.Unlock()
			return "", err
		}
		port = ports[0]
		if e.replicaPorts == nil {
			e.replicas, e.replicaPorts = map[int]*process{}, map[int]int{}
		}
		e.replicaPorts[i] = port
	}
	p := &process{
		name:    fmt.Sprintf("gateway-%d", i),
		path:    filepath.Join(e.BinDir, binFleetgate),
		args:    gatewayArgs(e.Host.layout, port, append(slices.Clone(e.opts.GatewayArgs), extraArgs...)...),
		logPath: filepath.Join(e.Dir, "logs", fmt.Sprintf("gateway-%d.log", i)),
	}
	e.replicas[i] = p
	httpClient := e.gatewayHTTP
	e.mu.Unlock()
	if err := p.start(); err != nil {
		return "", err
	}
	url := "https://" + hostPort(port)
	if err := waitFor(ctx, p.name+" /readyz", gatewayTimeout, []*process{p}, func(ctx context.Context) error {
		return checkReadyz(ctx, httpClient, url)
	}); err != nil {
		return "", err
	}
	e.printf("%s ready at %s", p.name, url)
	return url, nil
}

// GatewayReplica returns replica i's process ID and URL (i = 0: the gateway StartGateway started);
// pid 0 when it is not running.
func (e *Env) GatewayReplica(i int) (pid int, url string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, port := e.gateway, e.gatewayPort
	if i > 0 {
		p, port = e.replicas[i], e.replicaPorts[i]
	}
	if p != nil && p.running() {
		pid = p.pid()
	}
	return pid, "https://" + hostPort(port)
}

// KillGatewayReplica sends SIGKILL to replica i (0: the gateway StartGateway started) and waits
// until it is gone.
func (e *Env) KillGatewayReplica(i int) error {
	if i == 0 {
		return e.KillGateway()
	}
	e.mu.Lock()
	p := e.replicas[i]
	e.mu.Unlock()
	if p == nil || !p.running() {
		return fmt.Errorf("kill gateway replica %d: not running", i)
	}
	p.stop(context.Background(), 0)
	return nil
}
