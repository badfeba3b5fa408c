package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
	"k8s.io/klog/v2"

	"github.com/fleetgate/fleetgate/apitransport"
	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
)

// Identity is how a proxy tells the apiserver behind it whom it acts for.
type Identity int

const (
	// Impersonate sends Impersonate-User, -Uid, -Group and -Extra-*: the credential must be allowed
	// to impersonate. Members are always reached this way (they do not trust the gateway's CAs).
	Impersonate Identity = iota
	// FrontProxy sends X-Remote-User, -Uid, -Group and -Extra-* (kube-apiserver's request-header
	// authentication, as kube-aggregator does): the credential must be a client certificate of the
	// apiserver's --requestheader-client-ca-file with a common name in --requestheader-allowed-names,
	// and the apiserver must read those headers (--requestheader-username-headers=X-Remote-User,
	// -uid-headers=X-Remote-Uid, -group-headers=X-Remote-Group, -extra-headers-prefix=X-Remote-Extra-).
	FrontProxy
)

// hostProxy forwards requests to the host apiserver with the gateway's own credential, acting as the
// authenticated (and possibly impersonated) caller found in the request context.
type hostProxy struct {
	proxy     *httputil.ReverseProxy
	target    *url.URL
	basePath  string
	transport http.RoundTripper
}

// newHostProxy builds the reverse proxy to the apiserver described by cfg (the host with the
// gateway's credential, or a member with its impersonating one), acting for the caller as id says;
// what names it in errors.
// Both regular and upgrade requests (exec, attach, port-forward) go over HTTP/1.1
// (apitransport.HTTP1), upgrades in a pool of their own.
func newHostProxy(cfg *rest.Config, what string, id Identity) (*hostProxy, error) {
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("host URL %q: %w", cfg.Host, err)
	}
	if target.Scheme == "" || target.Host == "" {
		return nil, fmt.Errorf("host URL %q: want scheme://host:port", cfg.Host)
	}
	regular, err := apitransport.HTTP1(cfg)
	if err != nil {
		return nil, fmt.Errorf("host transport: %w", err)
	}
	upgrade, err := apitransport.HTTP1(cfg)
	if err != nil {
		return nil, fmt.Errorf("host upgrade transport: %w", err)
	}
	basePath := strings.TrimSuffix(target.Path, "/")
	rt := &actingTransport{regular: regular, upgrade: upgrade, id: id}
	p := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = target.Scheme
			r.Out.URL.Host = target.Host
			r.Out.URL.Path = basePath + r.In.URL.Path
			r.Out.URL.RawPath = ""
			r.Out.Host = ""
			stripCredentials(r.Out.Header)
		},
		Transport: rt,
		// No FlushInterval: ReverseProxy flushes every write of a response without a Content-Length
		// (watches, chunked lists, logs -f) at once anyway, and a response of known length is written
		// in one go instead of a flush (a syscall) per copy (21% of the gateway's CPU under GET c=32).
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			klog.FromContext(r.Context()).Error(err, "Proxy failed", "to", what, "path", r.URL.Path)
			// A Pull member whose agent has no tunnel open is unavailable (503, retry later); any other
			// failure to reach the apiserver is the gateway's bad luck on the way (502).
			code := http.StatusBadGateway
			if errors.Is(err, tunnel.ErrNotConnected) {
				code = http.StatusServiceUnavailable
			}
			writeStatus(w, r, code, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("%s unreachable: %v", what, err))
		},
		BufferPool: bufferPool{},
	}
	return &hostProxy{proxy: p, target: target, basePath: basePath, transport: rt}, nil
}

func (h *hostProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.proxy.ServeHTTP(w, r) }

// Caller sends requests to an apiserver as the authenticated caller in each request's context.
type Caller interface {
	Do(req *http.Request) (*http.Response, error)
}

// NewCaller returns a client of the host control plane (cfg: the gateway's credential for proxied
// requests) that acts as the caller in each request's context as id says, with any credential the
// client sent stripped, exactly as the front door's reverse proxy to the host. The write pipeline
// sends its dry runs and commits through it (pipeline.Host).
func NewCaller(cfg *rest.Config, id Identity) (Caller, error) {
	return newHostProxy(cfg, "host control plane", id)
}

// Do sends a request (path and query only) to the host as the user in its context, with the same
// credential stripping as the reverse proxy.
func (h *hostProxy) Do(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.RequestURI = ""
	u := *req.URL
	u.Scheme, u.Host = h.target.Scheme, h.target.Host
	u.Path, u.RawPath = h.basePath+req.URL.Path, ""
	out.URL = &u
	out.Host = ""
	stripCredentials(out.Header)
	return h.transport.RoundTrip(out)
}

// stripCredentials removes every header through which a client could claim an identity. The gateway
// sets its own impersonation or front-proxy headers after this.
func stripCredentials(h http.Header) {
	for k := range h {
		lk := strings.ToLower(k)
		if lk == "authorization" || strings.HasPrefix(lk, "impersonate-") || strings.HasPrefix(lk, "x-remote-") {
			delete(h, k)
		}
	}
}

// actingTransport adds the context user to every request: Impersonate-User/Uid/Group/Extra-* or,
// with FrontProxy, X-Remote-User/Uid/Group/Extra-* (client-go's encoding of both, the one
// kube-apiserver decodes). A request without a user in its context is refused: the front door must
// never forward as itself.
type actingTransport struct {
	regular, upgrade http.RoundTripper
	id               Identity
}

func (t *actingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	u, ok := request.UserFrom(req.Context())
	if !ok {
		return nil, fmt.Errorf("refusing to forward %s %s: no authenticated user", req.Method, req.URL.Path)
	}
	rt := t.regular
	if httpstream.IsUpgradeRequest(req) {
		rt = t.upgrade
	}
	if t.id == FrontProxy {
		return transport.NewAuthProxyRoundTripper(u.GetName(), u.GetUID(), u.GetGroups(), u.GetExtra(), rt).RoundTrip(req)
	}
	return transport.NewImpersonatingRoundTripper(transport.ImpersonationConfig{
		UserName: u.GetName(),
		UID:      u.GetUID(),
		Groups:   u.GetGroups(),
		Extra:    u.GetExtra(),
	}, rt).RoundTrip(req)
}

// bufferPool recycles the reverse proxy's 32 KiB copy buffers (without it each request allocates one).
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
