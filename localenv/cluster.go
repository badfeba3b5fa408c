package localenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fleetgate/fleetgate/certs"
)

// Cluster is one kube-apiserver of the environment, the host or a member, with the processes around it.
type Cluster struct {
	// Name is "host" or the member's name.
	Name string
	// Workload is true for members with kube-controller-manager, kube-scheduler and kwok Nodes.
	Workload bool
	// Kubeconfig is the path of the cluster's admin kubeconfig (<dir>/<name>.kubeconfig, system:masters).
	Kubeconfig string
	// Server is the apiserver's URL, https://127.0.0.1:<port>.
	Server string
	// Config is the admin client configuration; rest.CopyConfig it before changing it.
	Config *rest.Config
	// CA signs the apiserver's serving certificate and the client certificates it accepts; tests may
	// issue certificates for other users with it.
	CA *certs.CA
	// FrontProxyCA (the host only) is the host's --requestheader-client-ca-file: it signs the
	// gateway's front-proxy client certificate (CN GatewayFrontProxyUser); tests may issue others.
	FrontProxyCA *certs.CA
	// Nodes are the names of the kwok Nodes of a workload member.
	Nodes []string

	member     MemberOptions // zero for the host
	layout     clusterLayout
	apiserver  *process
	components []*process // started once the apiserver is ready
	agent      *process   // `fleetgate agent`, once RegisterPull registered the member
	client     kubernetes.Interface
	http       *http.Client
	auditLog   string // MemberOptions.AuditLog's file
}

// AuditLogPath is the file the member's kube-apiserver writes its audit log to (one JSON
// audit.k8s.io/v1 Event per line), or "" without MemberOptions.AuditLog.
func (c *Cluster) AuditLogPath() string { return c.auditLog }

// newCluster writes the cluster's certificates, kubeconfig and configuration files and prepares (does
// not start) its processes. member is nil for the host.
func newCluster(stateDir, binDir string, l clusterLayout, member *MemberOptions) (*Cluster, error) {
	workload := member != nil && member.Workload
	ca, admin, err := writePKI(l, workload)
	if err != nil {
		return nil, fmt.Errorf("%s certificates: %w", l.name, err)
	}
	c := &Cluster{
		Name:       l.name,
		Workload:   workload,
		Kubeconfig: filepath.Join(stateDir, l.name+".kubeconfig"),
		Server:     l.server(),
		CA:         ca,
		layout:     l,
	}
	if member == nil {
		if c.FrontProxyCA, err = writeFrontProxyPKI(l); err != nil {
			return nil, fmt.Errorf("%s front-proxy certificates: %w", l.name, err)
		}
	}
	if err := admin.Write(c.Kubeconfig); err != nil {
		return nil, err
	}
	if c.Config, err = clientcmd.NewDefaultClientConfig(*admin.Build(), nil).ClientConfig(); err != nil {
		return nil, fmt.Errorf("%s client config: %w", l.name, err)
	}
	if c.client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return nil, fmt.Errorf("%s client: %w", l.name, err)
	}
	if c.http, err = rest.HTTPClientFor(c.Config); err != nil {
		return nil, fmt.Errorf("%s HTTP client: %w", l.name, err)
	}
	proc := func(component string, args []string) *process {
		return &process{
			name:    l.name + "-" + component,
			path:    filepath.Join(binDir, component),
			args:    args,
			logPath: filepath.Join(stateDir, "logs", l.name+"-"+component+".log"),
		}
	}
	c.apiserver = proc(binAPIServer, apiserverArgs(l, member != nil))
	if member != nil && member.AuditLog {
		if err := os.WriteFile(l.path(auditPolicyFile), []byte(auditPolicy), 0o644); err != nil {
			return nil, fmt.Errorf("%s audit policy: %w", l.name, err)
		}
		c.apiserver.args = append(c.apiserver.args, auditArgs(l)...)
		c.auditLog = l.path(auditLogFile)
	}
	switch {
	case member == nil:
		c.components = []*process{proc(binControllerManager, controllerManagerArgs(l, c.Kubeconfig, true))}
	case workload:
		c.member = *member
		c.Nodes = nodeNames(*member)
		if err := writeWorkloadConfig(l, c.Kubeconfig); err != nil {
			return nil, fmt.Errorf("%s configuration: %w", l.name, err)
		}
		c.components = []*process{
			proc(binControllerManager, controllerManagerArgs(l, c.Kubeconfig, false)),
			proc(binScheduler, schedulerArgs(l.path("kube-scheduler.yaml"))),
			proc(binKwok, kwokArgs(l, c.Kubeconfig)),
		}
	}
	return c, nil
}

// writeWorkloadConfig writes the scheduler's and kwok's configuration and the CRI log kwok serves.
func writeWorkloadConfig(l clusterLayout, kubeconfig string) error {
	kwok, err := kwokConfig(l.dir, l.path(podLogFile), hostPort(l.apiPort))
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"kube-scheduler.yaml": schedulerConfig(kubeconfig),
		kwokConfigFile:        kwok,
		podLogFile:            podLog(l.name, time.Now()),
	}
	for name, data := range files {
		if err := os.WriteFile(l.path(name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// start brings the cluster up: apiserver, then its components, then the kwok Nodes, and waits until
// the cluster can run workloads.
func (c *Cluster) start(ctx context.Context) error {
	if err := c.StartAPIServer(ctx); err != nil {
		return err
	}
	for _, p := range c.components {
		if err := p.start(); err != nil {
			return err
		}
	}
	for _, name := range c.Nodes {
		_, err := c.client.CoreV1().Nodes().Create(ctx, fakeNode(name, c.member), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s: create node %s: %w", c.Name, name, err)
		}
	}
	return waitFor(ctx, c.Name+" ready", clusterTimeout, c.processes(), c.checkReady)
}

// checkReady: the system namespaces exist; for workload members every Node is Ready and the default
// ServiceAccount exists (Pods are refused without it).
func (c *Cluster) checkReady(ctx context.Context) error {
	for _, ns := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem} {
		if _, err := c.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	if !c.Workload {
		return nil
	}
	for _, name := range c.Nodes {
		n, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		if !nodeReady(n) {
			return fmt.Errorf("node %s is not Ready", name)
		}
	}
	if _, err := c.client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("default ServiceAccount: %w", err)
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// StartAPIServer starts the cluster's kube-apiserver (again, on the same port and with the same
// certificates) and waits until its /readyz answers 200.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	if err := c.apiserver.start(); err != nil {
		return err
	}
	return waitFor(ctx, c.apiserver.name+" /readyz", apiserverTimeout, []*process{c.apiserver}, func(ctx context.Context) error {
		return checkReadyz(ctx, c.http, c.Server)
	})
}

// StopAPIServer kills the cluster's kube-apiserver (SIGKILL, like a crash) and waits until it has
// exited; the cluster's other processes keep running and retry. It does not stop gracefully because
// kube-apiserver then waits up to --request-timeout (60s) for open watch connections.
func (c *Cluster) StopAPIServer(ctx context.Context) error {
	if !c.apiserver.running() {
		return fmt.Errorf("stop %s: not running", c.apiserver.name)
	}
	c.apiserver.stop(ctx, 0)
	return nil
}

// processes are all of the cluster's processes, the apiserver first.
func (c *Cluster) processes() []*process {
	ps := append([]*process{c.apiserver}, c.components...)
	if c.agent != nil {
		ps = append(ps, c.agent)
	}
	return ps
}

// checkReadyz returns nil when GET <server>/readyz?verbose answers 200; otherwise the failed checks
// (kube-apiserver) or the reason (the gateway, which says why only to authenticated callers and
// with ?verbose).
func checkReadyz(ctx context.Context, client *http.Client, server string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz?verbose", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		why := failedChecks(string(body))
		if first, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n"); why == "" && first != "" {
			why = ": " + first
		}
		return errors.New(resp.Status + why)
	}
	return nil
}

// failedChecks picks the "[-]name failed" lines of a /readyz answer.
func failedChecks(body string) string {
	var failed []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "[-]") {
			failed = append(failed, strings.TrimPrefix(l, "[-]"))
		}
	}
	if len(failed) == 0 {
		return ""
	}
	return ": " + strings.Join(failed, ", ")
}
