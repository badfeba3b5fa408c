// Package install owns putting fleetgate into clusters: the PKI Secrets that deploy's manifests name
// but cannot contain (EnsurePKI; existing ones are never overwritten, so installing again rotates no
// CA), the server-side apply of rendered objects (Apply, field manager per caller), the wait for the
// host control plane and the gateway to become available (Wait), the administrator's gateway
// kubeconfig, and a Pull member's agent (InstallAgent). `fleetgate init` and `fleetgate register`
// (cmd/fleetgate/app) call it. It does not render manifests (deploy does) and does not register
// clusters (bootstrap does).
package install
