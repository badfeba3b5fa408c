// Package webhook owns the admission webhooks that the host control plane calls at the gateway: for
// fleetgate's policy kinds (PropagationPolicy, ClusterPropagationPolicy, OverridePolicy,
// ClusterOverridePolicy) a mutating endpoint that applies Karmada's defaults and a validating
// endpoint that applies Karmada's rules, so policies written straight to the host are defaulted and
// checked exactly like those written through the gateway; for Clusters a validating endpoint
// (credentials only by reference to fleetgate-system Secrets labelled for the cluster, https API
// endpoints); and the registration of all of them in the host.
//
// It does not authenticate callers (the endpoints answer questions and change nothing). The
// gateway's own write path is package pipeline.
package webhook
