package localenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// Env is a running environment. Start creates it; Stop tears it down.
type Env struct {
	// Dir is the absolute state directory; BinDir the directory of the executables.
	Dir, BinDir string
	// Host is the host control plane; Members the member clusters in the order of Options.Members.
	Host    *Cluster
	Members []*Cluster
	// GatewayURL (https://127.0.0.1:<port>), GatewayKubeconfig (<dir>/gateway.kubeconfig, admin
	// certificate from the gateway CA) and GatewayConfig are set once the gateway was started.
	GatewayURL        string
	GatewayKubeconfig string
	GatewayConfig     *rest.Config
	// CertManagerNamespace is the host namespace of the Secrets that ClusterIssuers name, with
	// Options.CertManager; empty without it.
	CertManagerNamespace string
	// StartupTime is how long Start took.
	StartupTime time.Duration

	opts    Options
	out     io.Writer
	lock    *os.File
	etcd    *process
	etcdURL string

	mu          sync.Mutex // guards the gateway fields and certManager below
	gatewayPort int
	gateway     *process // the latest run
	gatewayHTTP *http.Client
	// replicas are the further gateway replicas (StartGatewayReplica), by index ≥ 1, and their ports.
	replicas     map[int]*process
	replicaPorts map[int]int
	certManager  *process // with Options.CertManager

	stopOnce sync.Once
	stopErr  error
}

// ProcessUsage is the memory of one running process.
type ProcessUsage struct {
	Name string // "etcd", "gateway" or "<cluster>-<component>" (host-cert-manager-controller too)
	PID  int
	RSS  int64 // bytes
}

// Start starts an environment and returns once every cluster is ready: each apiserver answers
// /readyz, workload members have their Nodes Ready and their default ServiceAccount, and the gateway
// (with Options.Gateway) answers /readyz; with Options.CertManager, cert-manager's CRDs are Established
// in the host and its controller is started. Members start in parallel. On error it stops what it started.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	began := time.Now()
	o, err := opts.complete()
	if err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	if err := checkBinaries(o); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	lock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: o.Dir, BinDir: o.BinDir, opts: o, out: &lockedWriter{w: o.Out}, lock: lock}
	defer func() {
		if err != nil {
			_ = e.Stop()
			err = fmt.Errorf("localenv (logs in %s): %w", filepath.Join(o.Dir, "logs"), err)
		}
	}()
	if err := e.prepare(); err != nil {
		return nil, err
	}
	if err := e.startEtcd(ctx); err != nil {
		return nil, err
	}
	if err := e.startClusters(ctx); err != nil {
		return nil, err
	}
	if o.CertManager {
		if err := e.startCertManager(ctx); err != nil {
			return nil, err
		}
	}
	if o.Gateway {
		if err := e.StartGateway(ctx); err != nil {
			return nil, err
		}
	}
	e.StartupTime = time.Since(began)
	e.printf("environment ready in %s; RSS %s", e.StartupTime.Round(100*time.Millisecond), e.usageSummary())
	return e, nil
}

// prepare cleans the state directory, allocates ports and writes every cluster's files.
func (e *Env) prepare() error {
	if err := cleanDir(e.Dir); err != nil {
		return err
	}
	for _, d := range []string{"logs", "clusters"} {
		if err := os.MkdirAll(filepath.Join(e.Dir, d), 0o755); err != nil {
			return err
		}
	}
	n := 4 // etcd client and peer, host apiserver, gateway
	for _, m := range e.opts.Members {
		n++
		if m.Workload {
			n++
		}
	}
	ports, err := freePorts(n)
	if err != nil {
		return err
	}
	next := func() int { p := ports[0]; ports = ports[1:]; return p }
	etcdClient, etcdPeer := next(), next()
	e.gatewayPort = next()
	e.etcd = &process{
		name:    "etcd",
		path:    filepath.Join(e.BinDir, binEtcd),
		args:    etcdArgs(filepath.Join(e.Dir, "etcd"), etcdClient, etcdPeer),
		logPath: filepath.Join(e.Dir, "logs", "etcd.log"),
	}
	e.etcdURL = "http://" + hostPort(etcdClient)
	layout := func(name string) clusterLayout {
		return clusterLayout{name: name, dir: filepath.Join(e.Dir, "clusters", name), etcdURL: e.etcdURL, apiPort: next()}
	}
	if e.Host, err = newCluster(e.Dir, e.BinDir, layout(hostName), nil); err != nil {
		return err
	}
	if err := e.writeGatewayHostKubeconfig(); err != nil {
		return err
	}
	for _, m := range e.opts.Members {
		l := layout(m.Name)
		if m.Workload {
			l.kwokPort = next()
		}
		c, err := newCluster(e.Dir, e.BinDir, l, &m)
		if err != nil {
			return err
		}
		e.Members = append(e.Members, c)
	}
	return nil
}

func (e *Env) startEtcd(ctx context.Context) error {
	began := time.Now()
	if err := e.etcd.start(); err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	err := waitFor(ctx, "etcd /health", etcdTimeout, []*process{e.etcd}, func(ctx context.Context) error {
		return checkHealth(ctx, client, e.etcdURL+"/health")
	})
	if err == nil {
		e.printf("etcd ready in %s", time.Since(began).Round(10*time.Millisecond))
	}
	return err
}

// startClusters starts the host and all members in parallel.
func (e *Env) startClusters(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clusters := append([]*Cluster{e.Host}, e.Members...)
	errs := make([]error, len(clusters))
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Go(func() {
			began := time.Now()
			if errs[i] = c.start(ctx); errs[i] != nil {
				cancel() // the others need not finish
				return
			}
			e.printf("%s (%s) ready in %s", c.Name, c.kind(), time.Since(began).Round(100*time.Millisecond))
		})
	}
	wg.Wait()
	// Report the root cause, not the cancellations it caused.
	var failed []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			failed = append(failed, err)
		}
	}
	if len(failed) == 0 {
		failed = errs
	}
	return errors.Join(failed...)
}

func (c *Cluster) kind() string {
	switch {
	case c.Name == hostName:
		return "host"
	case c.Workload:
		return fmt.Sprintf("workload, %d node(s)", len(c.Nodes))
	default:
		return "bare"
	}
}

// Member returns the member cluster called name, nil if there is none.
func (e *Env) Member(name string) *Cluster {
	for _, c := range e.Members {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Stop stops every process (SIGTERM to each process group, SIGKILL after a grace period), etcd last,
// waits until all have exited and releases the state directory. Files stay. Idempotent.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() { e.stopErr = e.stop() })
	return e.stopErr
}

func (e *Env) stop() error {
	began := time.Now()
	procs := e.processes()
	for _, p := range procs {
		if err := p.crashed(); err != nil {
			e.printf("%s had exited on its own: %v (see %s)", p.name, err, p.logPath)
		}
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		if p != e.etcd {
			wg.Go(func() { p.stop(context.Background(), stopGrace) })
		}
	}
	wg.Wait()
	if e.etcd != nil {
		e.etcd.stop(context.Background(), stopGrace)
	}
	var err error
	if e.lock != nil {
		err = e.lock.Close() // releases the flock
	}
	e.printf("stopped in %s", time.Since(began).Round(10*time.Millisecond))
	return err
}

// processes are all processes ever started or prepared, etcd last.
func (e *Env) processes() []*process {
	var ps []*process
	e.mu.Lock()
	if e.gateway != nil {
		ps = append(ps, e.gateway)
	}
	for _, p := range e.replicas {
		ps = append(ps, p)
	}
	if e.certManager != nil {
		ps = append(ps, e.certManager)
	}
	e.mu.Unlock()
	for _, c := range append([]*Cluster{e.Host}, e.Members...) {
		if c != nil {
			ps = append(ps, c.processes()...)
		}
	}
	if e.etcd != nil {
		ps = append(ps, e.etcd)
	}
	return ps
}

// Usage reports the memory of every running process.
func (e *Env) Usage() []ProcessUsage {
	var us []ProcessUsage
	for _, p := range e.processes() {
		if p.running() {
			us = append(us, ProcessUsage{Name: p.name, PID: p.pid(), RSS: p.rss()})
		}
	}
	return us
}

// usageSummary is the RSS per cluster, e.g. "etcd 40 MiB, host 300 MiB, member1 520 MiB".
func (e *Env) usageSummary() string {
	var parts []string
	mib := func(b int64) string { return strconv.FormatInt(b>>20, 10) + " MiB" }
	total := int64(0)
	add := func(name string, ps []*process) {
		var sum int64
		for _, p := range ps {
			sum += p.rss()
		}
		total += sum
		parts = append(parts, name+" "+mib(sum))
	}
	add("etcd", []*process{e.etcd})
	for _, c := range append([]*Cluster{e.Host}, e.Members...) {
		add(c.Name, c.processes())
	}
	e.mu.Lock()
	gw, cm := e.gateway, e.certManager
	e.mu.Unlock()
	if gw != nil {
		add("gateway", []*process{gw})
	}
	if cm != nil {
		add("cert-manager", []*process{cm})
	}
	return strings.Join(parts, ", ") + "; total " + mib(total)
}

// DumpLogs writes the last tailLines lines of every process's log to w.
func (e *Env) DumpLogs(w io.Writer, tailLines int) {
	TailLogs(w, e.Dir, tailLines)
}

func (e *Env) printf(format string, args ...any) {
	fmt.Fprintf(e.out, "[localenv] "+format+"\n", args...)
}

// checkHealth returns nil when GET url answers 200.
func checkHealth(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// lockedWriter serializes the progress lines of clusters starting in parallel.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
