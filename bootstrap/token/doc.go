// Package token owns fleetgate's bootstrap tokens: kubeadm-style tokens ([a-z0-9]{6}.[a-z0-9]{16})
// kept as Secrets bootstrap-token-<id> of type bootstrap.kubernetes.io/token in the host's
// kube-system, in the layout k8s.io/cluster-bootstrap defines, so that the host's kube-apiserver
// authenticates them (--enable-bootstrap-token-auth) and the host's tokencleaner controller removes
// expired ones. A token authenticates a Pull member's register (user system:bootstrap:<id>, groups
// system:bootstrappers and Group) and signs the gateway's cluster-info (JWS).
//
// It does not sign certificates or create Clusters (the register endpoint does).
package token
