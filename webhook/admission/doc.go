// Package admission owns the admission webhook that the host control plane calls for fleetgate's
// policy kinds (PropagationPolicy, ClusterPropagationPolicy, OverridePolicy, ClusterOverridePolicy):
// a mutating endpoint that applies Karmada's defaults and a validating endpoint that applies
// Karmada's rules, and the registration of both in the host. Policies written straight to the host
// are so defaulted and checked exactly like those written through the gateway.
//
// It does not authenticate callers (the endpoints answer questions and change nothing) and does not
// touch anything but policy kinds.
package admission
