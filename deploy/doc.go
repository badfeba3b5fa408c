// Package deploy owns fleetgate's install manifests and their rendering. The manifests are
// kustomize directories next to this file, for `kubectl apply -k` as they are:
//
//   - base: the host control plane (etcd StatefulSet, kube-apiserver, kube-controller-manager with
//     only the namespace, garbagecollector, serviceaccount-token and tokencleaner controllers) and the
//     gateway (Deployment of `fleetgate serve`, Service, PodDisruptionBudget), in fleetgate-system;
//   - cert-manager: base, with the gateway's serving certificate from a cert-manager Issuer;
//   - agent: a Pull member's agent (Deployment, ServiceAccount, ClusterRoleBinding, ConfigMap with the
//     gateway's address, Secret with register's files), applied in the member;
//   - crds: fleetgate's CRDs, copied from apis/crds by `make generate`, for a host whose gateway runs
//     with --install-crds=false.
//
// The same files are embedded, and Render builds them in memory with kustomize's own library
// (sigs.k8s.io/kustomize/api, krusty), so `fleetgate init` and `fleetgate register` apply exactly what
// `kubectl kustomize` prints, with their settings (image, gateway address, the agent's files) as one
// more overlay. This package does not apply anything, and it does not make certificates: the Secrets
// the manifests name are `fleetgate init`'s (cmd/fleetgate/app).
package deploy
