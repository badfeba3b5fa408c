// Package webhook owns the admission pipeline of writes that pass through the gateway: a chain of
// small plugins (resolve, policy, match, schedule, override, member dry-run, commit, dispatch) behind
// one admission-style interface, in the spirit of k8s.io/apiserver/pkg/admission; and (sub-package
// admission) the validating and mutating webhook for fleetgate's policy kinds that the host calls,
// so policies written straight to the host are checked the same way.
//
// It does not route requests (proxy/ decides which writes enter the pipeline), does not keep members
// converged after the fact (propagate/reconcile does) and holds no state between requests.
package webhook
