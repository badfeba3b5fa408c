package member

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
)

// Namespaces remembers, per member, the namespaces known to exist there, so that a write does not
// have to ask again every time (EnsureNamespace costs a request). Entries expire after ttl; Forget
// drops one when a write says the namespace is gone.
type Namespaces struct {
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	known map[string]time.Time // "cluster/namespace" → expiry
}

// NewNamespaces returns an empty cache whose entries live for ttl.
func NewNamespaces(ttl time.Duration) *Namespaces {
	return &Namespaces{ttl: ttl, now: time.Now, known: map[string]time.Time{}}
}

// Ensure is EnsureNamespace, skipped when the namespace is known to exist in the cluster.
func (n *Namespaces) Ensure(ctx context.Context, c dynamic.Interface, cluster, ns string) error {
	if ns == "" {
		return nil
	}
	key := cluster + "/" + ns
	n.mu.Lock()
	exp, ok := n.known[key]
	n.mu.Unlock()
	if ok && n.now().Before(exp) {
		return nil
	}
	if err := EnsureNamespace(ctx, c, ns); err != nil {
		return err
	}
	n.mu.Lock()
	n.known[key] = n.now().Add(n.ttl)
	n.mu.Unlock()
	return nil
}

// Forget drops what is known about a namespace in a cluster.
func (n *Namespaces) Forget(cluster, ns string) {
	n.mu.Lock()
	delete(n.known, cluster+"/"+ns)
	n.mu.Unlock()
}
