package localenv

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// DefaultDir is the state directory used when Options.Dir is empty.
const DefaultDir = ".fleetgate"

// Defaults of MemberOptions for workload members.
const (
	DefaultNodeCPU    = "32"
	DefaultNodeMemory = "256Gi"
	DefaultNodePods   = 110
)

// ErrBinaryMissing is wrapped by Start's error when an executable is not in the bin directory.
var ErrBinaryMissing = errors.New("binary missing")

// Options configure Start.
type Options struct {
	// Dir is the state directory (DefaultDir when empty). Start wipes what an earlier environment left
	// there (etcd data, certificates, logs, kubeconfigs) and touches no other file in it.
	Dir string
	// BinDir holds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, fleetgate and
	// (for CertManager) cert-manager-controller.
	// DefaultBinDir() when empty.
	BinDir string
	// Members are the member clusters, started in parallel.
	Members []MemberOptions
	// Gateway starts `fleetgate serve` once the host is ready. Without it, StartGateway can start it later.
	Gateway bool
	// GatewayArgs are appended to every gateway command line.
	GatewayArgs []string
	// CertManager installs cert-manager's CertificateRequest, ClusterIssuer and Issuer CRDs into the
	// host once it is ready, creates CertManagerNamespace (its cluster resource namespace) and runs
	// <bin>/cert-manager-controller against the host: cert-manager's real clusterissuers,
	// certificaterequests-approver and certificaterequests-issuer-ca controllers, so that a CA
	// ClusterIssuer (its key pair in a kubernetes.io/tls Secret in CertManagerNamespace) becomes Ready
	// and CertificateRequests naming it are approved and signed. No webhook, no Certificate or ACME
	// controllers. Off by default.
	CertManager bool
	// Out receives progress lines (what became ready, how long it took, memory); discarded when nil.
	Out io.Writer
}

// MemberOptions describe one member cluster.
type MemberOptions struct {
	// Name is the cluster name; "member<i>" (1-based position in Options.Members) when empty.
	Name string
	// Workload adds kube-controller-manager, kube-scheduler and kwok fake Nodes, so that Deployments
	// really become Ready. Without it the member is a bare kube-apiserver.
	Workload bool
	// Nodes is the number of kwok Nodes of a workload member, named <member>-node1, …; 1 when zero.
	Nodes int
	// NodeCPU, NodeMemory and NodePods are each Node's capacity and allocatable (defaults
	// DefaultNodeCPU, DefaultNodeMemory, DefaultNodePods).
	NodeCPU, NodeMemory string
	NodePods            int
	// AuditLog makes the member's kube-apiserver write an audit log (Cluster.AuditLogPath): the
	// Metadata of every request made by fleetgate's identities there (service accounts
	// kube-system/fleetgate-*), one JSON event per line, so tests can see which credential the
	// gateway used. Off by default.
	AuditLog bool
}

// complete returns a copy of o with defaults filled in and everything validated.
func (o Options) complete() (Options, error) {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("state dir %q: %w", o.Dir, err)
	}
	o.Dir = dir
	if o.BinDir == "" {
		if o.BinDir, err = DefaultBinDir(); err != nil {
			return o, err
		}
	}
	if o.BinDir, err = filepath.Abs(o.BinDir); err != nil {
		return o, fmt.Errorf("bin dir %q: %w", o.BinDir, err)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	members := make([]MemberOptions, len(o.Members))
	seen := map[string]bool{hostName: true}
	for i, m := range o.Members {
		if m, err = m.complete(i); err != nil {
			return o, err
		}
		if seen[m.Name] {
			return o, fmt.Errorf("member %q: name already used", m.Name)
		}
		seen[m.Name] = true
		members[i] = m
	}
	o.Members = members
	return o, nil
}

func (m MemberOptions) complete(i int) (MemberOptions, error) {
	if m.Name == "" {
		m.Name = fmt.Sprintf("member%d", i+1)
	}
	if errs := validation.IsDNS1123Label(m.Name); len(errs) > 0 {
		return m, fmt.Errorf("member %q: invalid name: %s", m.Name, strings.Join(errs, "; "))
	}
	if !m.Workload {
		return m, nil
	}
	if m.Nodes < 0 {
		return m, fmt.Errorf("member %q: negative node count %d", m.Name, m.Nodes)
	}
	if m.Nodes == 0 {
		m.Nodes = 1
	}
	if m.NodeCPU == "" {
		m.NodeCPU = DefaultNodeCPU
	}
	if m.NodeMemory == "" {
		m.NodeMemory = DefaultNodeMemory
	}
	if m.NodePods == 0 {
		m.NodePods = DefaultNodePods
	}
	for field, v := range map[string]string{"NodeCPU": m.NodeCPU, "NodeMemory": m.NodeMemory} {
		if _, err := resource.ParseQuantity(v); err != nil {
			return m, fmt.Errorf("member %q: %s %q: %w", m.Name, field, v, err)
		}
	}
	if m.NodePods < 0 {
		return m, fmt.Errorf("member %q: negative NodePods %d", m.Name, m.NodePods)
	}
	return m, nil
}
