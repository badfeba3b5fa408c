// Package clusterstatus owns the health of member clusters as the host records it: every period it
// probes each Cluster's /readyz through bootstrap/access (each probe bounded by its own timeout) and
// writes the Ready condition, kubernetesVersion, apiEnablements, nodeSummary and resourceSummary into
// the Cluster's status, and keeps the cluster.karmada.io/not-ready:NoSchedule taint in line with the
// recorded Ready condition.
//
// Like Karmada's cluster-status controller, it changes a recorded Ready condition only after the
// opposite health has been observed without a break for the failure (True→False) or success
// (False→True) threshold; a per-cluster, in-memory health cache remembers since when. A cluster's
// first condition is recorded at once.
//
// The same visit renews a Push member's credentials before they expire, through a CredentialRenewer
// (bootstrap.TokenRenewer), before its probe; renewals and their failures are events on the
// Cluster.
//
// It does not decide placement (the scheduler reads what it writes), never changes other fields
// of the Cluster, and does not itself know how credentials are made (bootstrap/ does).
package clusterstatus
