package localenv

import (
	"encoding/json"
	"strconv"
)

// Names of the executables in the bin directory.
const (
	binEtcd              = "etcd"
	binAPIServer         = "kube-apiserver"
	binControllerManager = "kube-controller-manager"
	binScheduler         = "kube-scheduler"
	binKwok              = "kwok"
	binFleetgate         = "fleetgate"
	binCertManager       = "cert-manager-controller" // hack/tools/certmanager
)

const (
	// hostControllers are the only controllers of the host's kube-controller-manager.
	hostControllers = "namespace,garbagecollector,serviceaccount-token,tokencleaner"
	// kwokNodeAnnotation marks the Nodes a member's kwok manages.
	kwokNodeAnnotation = "kwok.x-k8s.io/node"
	// podCIDR is where kwok takes pod IPs from (the default /24 runs out at 254 pods per member).
	podCIDR = "10.0.0.0/16"
	// serviceAccountIssuer is every cluster's --service-account-issuer.
	serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"
)

// etcdArgs: one member, loopback only, no fsync (test data, speed matters more than durability).
func etcdArgs(dataDir string, clientPort, peerPort int) []string {
	client, peer := "http://"+hostPort(clientPort), "http://"+hostPort(peerPort)
	return []string{
		"--name=localenv",
		"--data-dir=" + dataDir,
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=localenv=" + peer,
		"--unsafe-no-fsync",
		"--log-level=warn",
	}
}

// apiserverArgs: RBAC, client certificates from the cluster CA, service-account tokens signed with the
// cluster's own key (so TokenRequest and TokenReview work), members reach kwok's kubelet API by
// InternalIP (127.0.0.1). kube-apiserver v1.37 refuses a loopback --advertise-address with the default
// lease endpoint reconciler, hence --endpoint-reconciler-type=none (the kubernetes Service then has no
// endpoints, which nothing here needs).
func apiserverArgs(l clusterLayout, member bool) []string {
	args := []string{
		"--etcd-servers=" + l.etcdURL,
		"--etcd-prefix=/" + l.name,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(l.apiPort),
		"--cert-dir=" + l.dir,
		"--tls-cert-file=" + l.path(servingCert),
		"--tls-private-key-file=" + l.path(servingKey),
		"--client-ca-file=" + l.path(caCertFile),
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + l.path(saKeyFile),
		"--service-account-signing-key-file=" + l.path(saKeyFile),
		"--service-cluster-ip-range=" + serviceCIDR,
		"--allow-privileged=true",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}
	if member {
		args = append(args, "--kubelet-preferred-address-types=InternalIP")
	} else {
		// Bootstrap tokens (bootstrap/token) authenticate Pull members' register at the host's
		// TokenReview.
		args = append(args, "--enable-bootstrap-token-auth")
		args = append(args, requestHeaderArgs(l)...)
	}
	return args
}

// requestHeaderArgs: the host trusts the gateway as an authenticating front proxy (proxy.FrontProxy):
// X-Remote-* headers name the user of a request only when it comes with a client certificate of the
// front-proxy CA for GatewayFrontProxyUser.
func requestHeaderArgs(l clusterLayout) []string {
	return []string{
		"--requestheader-client-ca-file=" + l.path(frontProxyCACert),
		"--requestheader-allowed-names=" + GatewayFrontProxyUser,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-uid-headers=X-Remote-Uid",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
	}
}

// Files of a member with MemberOptions.AuditLog, in its cluster directory.
const (
	auditPolicyFile = "audit-policy.yaml"
	auditLogFile    = "audit.log"
)

// auditPolicy logs the Metadata (user with extras, so the credential's JTI; verb; object) of the
// requests of fleetgate's member identities, once each, when the response is complete.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: Metadata
  users:
  - system:serviceaccount:kube-system:fleetgate-propagator
  - system:serviceaccount:kube-system:fleetgate-impersonator
- level: None
`

// auditArgs: a JSON audit log, written at once (no batching), to the cluster's audit.log.
func auditArgs(l clusterLayout) []string {
	return []string{
		"--audit-policy-file=" + l.path(auditPolicyFile),
		"--audit-log-path=" + l.path(auditLogFile),
		"--audit-log-format=json",
		"--audit-log-mode=blocking",
	}
}

// controllerManagerArgs: no serving port and no leader election (a restarted apiserver must not make
// it exit, and it starts at once); the host runs only hostControllers.
func controllerManagerArgs(l clusterLayout, kubeconfig string, host bool) []string {
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--secure-port=0",
		"--leader-elect=false",
		"--service-account-private-key-file=" + l.path(saKeyFile),
		"--root-ca-file=" + l.path(caCertFile),
		"--kube-api-qps=100",
		"--kube-api-burst=200",
	}
	if host {
		return append(args, "--controllers="+hostControllers)
	}
	return append(args,
		"--cluster-signing-cert-file="+l.path(caCertFile),
		"--cluster-signing-key-file="+l.path(caKeyFile),
	)
}

// schedulerArgs: its kubeconfig and leader election come from the config file (--kubeconfig is
// deprecated for kube-scheduler).
func schedulerArgs(configPath string) []string {
	return []string{"--config=" + configPath, "--secure-port=0"}
}

// schedulerConfig is a KubeSchedulerConfiguration (JSON is YAML) without leader election.
func schedulerConfig(kubeconfig string) []byte {
	cfg := map[string]any{
		"apiVersion":       "kubescheduler.config.k8s.io/v1",
		"kind":             "KubeSchedulerConfiguration",
		"clientConnection": map[string]any{"kubeconfig": kubeconfig, "qps": 100, "burst": 200},
		"leaderElection":   map[string]any{"leaderElect": false},
	}
	data, _ := json.Marshal(cfg) // cannot fail: strings and numbers only
	return data
}

// kwokArgs: kwok manages the Nodes annotated kwok.x-k8s.io/node=fake and serves the kubelet API (logs,
// exec) with TLS on 127.0.0.1:<kwokPort>, the address it also writes into those Nodes' status. Node
// leases keep the node lifecycle controller content between the heartbeat Stage's updates.
func kwokArgs(l clusterLayout, kubeconfig string) []string {
	port := strconv.Itoa(l.kwokPort)
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--config=" + l.path(kwokConfigFile),
		"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
		"--node-ip=127.0.0.1",
		"--node-port=" + port,
		"--server-address=" + hostPort(l.kwokPort),
		"--tls-cert-file=" + l.path(kwokCertFile),
		"--tls-private-key-file=" + l.path(kwokKeyFile),
		"--cidr=" + podCIDR,
		"--node-lease-duration-seconds=40",
	}
}

// certManagerArgs: cert-manager-controller (hack/tools/certmanager) has no serving port and no leader
// election; ClusterIssuers' Secrets are read from namespace.
func certManagerArgs(kubeconfig, namespace string) []string {
	return []string{"--kubeconfig=" + kubeconfig, "--cluster-resource-namespace=" + namespace}
}

// gatewayArgs is the `fleetgate serve` command line against the host in host's directory (its
// credential and front-proxy certificate); extra arguments come last.
func gatewayArgs(host clusterLayout, port int, extra ...string) []string {
	args := []string{
		"serve",
		"--kubeconfig", host.path(gatewayHostKubeconfig),
		"--host-front-proxy-cert-file", host.path(frontProxyClientCert),
		"--host-front-proxy-key-file", host.path(frontProxyClientKey),
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(port),
		"--advertise-address", "127.0.0.1",
		// Tests kill and restart members and wait for Ready to follow (serve's defaults are Karmada's 30s).
		"--cluster-failure-threshold", "3s", "--cluster-success-threshold", "1s",
	}
	return append(args, extra...)
}
