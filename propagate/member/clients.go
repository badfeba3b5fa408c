package member

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/fleetgate/fleetgate/bootstrap/access"
)

// Clients hands out one dynamic client per member, built from bootstrap/access and kept for ttl so
// rotated credentials are picked up.
type Clients struct {
	access access.Getter
	ttl    time.Duration
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]cachedClient
}

type cachedClient struct {
	client  dynamic.Interface
	expires time.Time
}

// NewClients returns a client cache over a (default ttl one minute).
func NewClients(a access.Getter) *Clients {
	return &Clients{access: a, ttl: time.Minute, now: time.Now, cache: map[string]cachedClient{}}
}

// Dynamic returns the dynamic client of a member.
func (c *Clients) Dynamic(ctx context.Context, cluster string) (dynamic.Interface, error) {
	c.mu.Lock()
	e, ok := c.cache[cluster]
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.client, nil
	}
	cfg, err := c.access.Config(ctx, cluster)
	if err != nil {
		return nil, err
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cache[cluster] = cachedClient{client: d, expires: c.now().Add(c.ttl)}
	c.mu.Unlock()
	return d, nil
}

// Forget drops the cached client of a member (after it was unjoined or its credentials changed).
func (c *Clients) Forget(cluster string) {
	c.mu.Lock()
	delete(c.cache, cluster)
	c.mu.Unlock()
}
