// Package ha runs the gateway as several replicas against one host control plane, on what
// Kubernetes gives for it:
//
//   - Replicas: each replica announces itself with a Lease of its own in the host (its ID and the
//     URL its peers reach it at) and renews it; the others read them from an informer.
//   - Elector: one replica at a time leads the controllers (the reconciler, the status
//     aggregation, the cluster-status controller), elected with client-go's leaderelection over a
//     Lease in the host. A replica that loses the lead stops (as kube-controller-manager does) and
//     is restarted; one that is not leading serves every request with warm caches.
//   - Peers: the replicas call each other over the gateway's HTTPS port, authenticated both ways
//     by certificates of the gateway CA (PeerCommonName): /peer/dial reaches a Pull member through
//     the replica its agent's tunnel ends on, /peer/handoff hands a committed template to the
//     leader's reconciler, which keeps it the only writer to members.
//   - Tunnels: the member access's dialer for Pull members — the local tunnel when the agent is
//     connected here, else the replica recorded on the Cluster (TunnelReplicaAnnotation), through
//     /peer/dial.
package ha
