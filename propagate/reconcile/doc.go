// Package reconcile owns the reconciler that keeps member clusters in line with the host: for every
// template (an object of a kind some propagation policy or binding names, and every Namespace) it
// records the claim and the finalizer fleetgate.io/propagation on the template, writes the member
// copies (server-side apply through propagate/member, retried with a short exponential backoff),
// deletes copies that are no longer placed, keeps the (Cluster)ResourceBinding (spec, per-cluster
// applied status, conditions Scheduled and FullyApplied, applied overrides) and emits events on the
// template. It also carries workload dependencies (propagateDeps), creates host Namespaces on every
// Ready member, and sweeps members for copies whose template is gone.
//
// Work flows through two levels of queues. The template queue (keys: Key) decides: it runs
// plan.Compute and writes only to the host. One queue per member cluster (keys: {cluster, template})
// writes only to that member, so a slow or unreachable cluster delays nobody else. The outcome of a
// member write is kept in memory and sends the template back to the template queue, which then
// records it in the binding. What a member holds is recorded per cluster in the binding's
// annotation fleetgate.io/applied-hashes, so that after a restart an unchanged template costs no
// write at all.
//
// It does not decide where or what to write (propagate/plan does, the same code the admission
// pipeline runs), does not aggregate member status into templates, and reaches members only through
// the MemberClients it is given (bootstrap/access by default).
package reconcile
