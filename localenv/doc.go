// Package localenv owns the real-binary local environment that tests, benchmarks and `fleetgate up`
// run against: one etcd; the host control plane (kube-apiserver plus a kube-controller-manager limited
// to the namespace, garbage-collector and service-account-token controllers); N member clusters, each
// either bare (a kube-apiserver) or a workload cluster (kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok fake Nodes that run Pods, logs and exec for real); and optionally the
// gateway (`fleetgate serve`). Every process listens on 127.0.0.1 only and keeps its state, logs and
// kubeconfigs under one directory.
//
// Layout of the state directory:
//
//	.lock                       held (flock) while an environment runs
//	etcd/                       etcd data, shared; each cluster has its own --etcd-prefix (/host, /member1, …)
//	logs/<process>.log          stdout+stderr of each process (host-kube-apiserver.log, member1-kwok.log, …)
//	clusters/<name>/            per-cluster PKI (CA, serving cert, service-account key) and kwok config
//	clusters/<name>/audit.log   a member's audit log of fleetgate's identities (MemberOptions.AuditLog)
//	host.kubeconfig             admin of the host apiserver
//	<member>.kubeconfig         admin of each member apiserver
//	gateway.kubeconfig          admin of the gateway, signed by the gateway CA
//
// It does not build binaries (hack/tools does), join members to the gateway (bootstrap/ does) or
// implement the gateway; it only execs `<bin>/fleetgate serve`. The testing helper lives in
// localenv/envtest so that this package does not import "testing".
package localenv
