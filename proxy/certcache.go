package proxy

import (
	"net/http"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"
)

// certCache remembers the verdict of a client-certificate authenticator per leaf certificate, so a
// client that sends many requests pays for chain verification once per ttl instead of once per
// request (verification was the largest single CPU cost of a proxied GET). Only successes are cached;
// an entry never outlives the certificate's NotAfter.
type certCache struct {
	delegate authenticator.Request
	ttl      time.Duration
	clock    clock.PassiveClock
	cache    *lru.Cache
}

type certVerdict struct {
	resp    *authenticator.Response
	expires time.Time
}

var _ authenticator.Request = (*certCache)(nil)

func newCertCache(delegate authenticator.Request, ttl time.Duration, size int, c clock.PassiveClock) *certCache {
	return &certCache{delegate: delegate, ttl: ttl, clock: c, cache: lru.New(size)}
}

func (c *certCache) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	key := string(leaf.Raw)
	now := c.clock.Now()
	if v, ok := c.cache.Get(key); ok {
		if v := v.(certVerdict); now.Before(v.expires) {
			return v.resp, true, nil
		}
		c.cache.Remove(key)
	}
	resp, ok, err := c.delegate.AuthenticateRequest(r)
	if ok && err == nil {
		expires := now.Add(c.ttl)
		for _, cert := range r.TLS.PeerCertificates {
			if cert.NotAfter.Before(expires) {
				expires = cert.NotAfter
			}
		}
		c.cache.Add(key, certVerdict{resp: resp, expires: expires})
	}
	return resp, ok, err
}
