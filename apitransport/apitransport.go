// Package apitransport builds the HTTP/1.1 client transports fleetgate uses to reach apiservers: the
// gateway's to the host and to members, and the Pull agent's to its own apiserver.
package apitransport

import (
	"net"
	"net/http"
	"time"

	"k8s.io/client-go/rest"
)

// HTTP1 is an HTTP/1.1-only transport to the apiserver of cfg, with cfg's TLS and credentials
// (rest.HTTPWrappersForConfig) and enough idle connections for every concurrent proxied request.
// HTTP/1.1 because upgrades (exec, attach, port-forward) need it: Go's HTTP/2 transport falls back
// for WebSocket upgrades only and would send a SPDY upgrade over HTTP/2, where it fails; and a
// proxied request costs fewer goroutine hand-offs than over one multiplexed HTTP/2 connection.
// cfg.Dial, when set (a Pull member: through its agent's tunnel), dials.
func HTTP1(cfg *rest.Config) (http.RoundTripper, error) {
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		tlsCfg.NextProtos = []string{"http/1.1"}
	}
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
	if cfg.Dial != nil {
		t.DialContext = cfg.Dial
	}
	return rest.HTTPWrappersForConfig(cfg, t)
}
