// Package clusterstatus owns the health of member clusters as the host records it: every period it
// probes each Cluster's /readyz through bootstrap/access and writes the Ready condition,
// kubernetesVersion, apiEnablements, nodeSummary and resourceSummary into the Cluster's status, and
// keeps the cluster.karmada.io/not-ready:NoSchedule taint in line with readiness.
//
// It does not decide placement (the scheduler reads what it writes) and never changes other fields.
package clusterstatus
