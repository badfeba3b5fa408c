// Package pipeline owns the gateway's write path for the kinds that may be propagated, shaped as
// kube-apiserver serves a write: admission (mutating plugins — resolve, match, schedule, override —
// then validating ones — policy, member dry-run — behind k8s.io/apiserver/pkg/admission-style
// interfaces), then the commit (the storage write, to the host, as the caller), then the handoff of
// the committed template to the reconciler. Pipeline.Handles is the one decision which writes
// enter it.
//
// It does not route requests (proxy/ asks Handles), does not write copies to members (the
// reconciler's per-member queues dispatch them, propagate/reconcile) and holds no state between
// requests. The admission webhooks the host calls are package webhook.
package pipeline
