// Package reconcile owns the reconciler that keeps member clusters in line with the host: for every
// template (an object of a kind some propagation policy or binding names, and every Namespace) it
// records the claim and the finalizer fleetgate.io/propagation on the template, writes the member
// copies (server-side apply through propagate/member, retried with a short exponential backoff),
// deletes copies that are no longer placed, restores copies edited or deleted in a member (drift),
// keeps the (Cluster)ResourceBinding (spec, per-cluster applied status, conditions Scheduled and
// FullyApplied, applied overrides) and emits events on the template. It also carries workload
// dependencies (propagateDeps), creates host Namespaces on every Ready member, and sweeps members
// for copies whose template is gone.
//
// Templates are keyed by group, kind, namespace and name (Key): one key whatever version a policy
// or a client names the kind by.
//
// Work flows through two levels of queues. The template queue (keys: Key) decides: it runs
// plan.Compute and writes only to the host. One queue per member cluster (keys: {cluster, template})
// writes only to that member; these queues are the only writers to members, so a slow or
// unreachable cluster delays nobody else and a later decision can never lose to an earlier one. The
// write pipeline does not write copies to members either (its member dry-run creates at most a
// missing namespace that goes to every member anyway, see NamespacePropagated): Handoff hands it
// the committed template and waits until its Ready targets hold that version. The outcome of a member write is kept in memory
// and sends the template back to the template queue, which then records it in the binding. What a
// member holds is recorded per cluster in the binding's annotation fleetgate.io/applied-hashes, so
// that after a restart an unchanged template costs no write at all; a copy fleetgate deleted since,
// or one the member watch sees edited or gone, is not trusted to that record.
//
// Deletes are decided only from state read from the host just before: a copy leaves a cluster that
// is no longer a target only after the template and its binding were read again from the host (the
// caches may lag); a template's absence from the informer is confirmed by a GET; an orphaned copy is
// deleted only if its template UID matches no live template, with UID and resourceVersion
// preconditions. Cluster health (Ready, with failure and success thresholds) is decided by
// propagate/clusterstatus; a placed cluster that is NotReady keeps its copies.
//
// Nothing is queued again on a timer unless it waits for a deadline or a backoff: keys of kinds not
// watched yet are parked until the kind's informer has synced; kinds the host does not serve wait for
// an established CRD.
//
// The member watches also carry the copies' status: the template pass records each target's status
// and health in the binding and writes the aggregate (propagate/status) into the template's status.
//
// It does not decide where or what to write (propagate/plan does, the same code the admission
// pipeline runs), does not define how a kind's status aggregates (propagate/status does), and reaches
// members only through the MemberClients it is given (bootstrap/access by default).
package reconcile
