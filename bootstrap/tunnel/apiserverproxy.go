package tunnel

import (
	"fmt"
	"net/http"
	"net/http/httputil"

	"k8s.io/client-go/rest"
)

// NewAPIServerProxy returns the handler the agent serves at the end of the tunnel: a reverse proxy
// to the apiserver of cfg that authenticates with cfg's credentials. Whatever Authorization the
// gateway sent is removed, so the member sees the agent's identity; Impersonate-* headers pass
// through, so the agent's identity (which must be allowed to impersonate) acts as the gateway's user.
func NewAPIServerProxy(cfg *rest.Config) (http.Handler, error) {
	target, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("apiserver proxy: %w", err)
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("apiserver proxy: transport for %s: %w", target, err)
	}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// client-go's bearer-token round tripper keeps an Authorization already set.
			r.Out.Header.Del("Authorization")
			r.Out.Header.Del("Proxy-Authorization")
		},
		Transport: rt,
		// Watches and logs stream: flush every write.
		FlushInterval: -1,
	}, nil
}
