package proxy

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/rest"
)

// ClusterConfigs gives the gateway's impersonating credential for a member: requests made with it
// act as the user named in their Impersonate-* headers (bootstrap/access.Host implements it).
type ClusterConfigs interface {
	ImpersonatorConfig(ctx context.Context, cluster string) (*rest.Config, error)
}

// clusterProxyTTL is how long a member's proxy (its transport and credentials) is reused.
const clusterProxyTTL = time.Minute

// clusterProxy serves /clusters/{name}/… and Karmada's
// /apis/cluster.karmada.io/v1alpha1/clusters/{name}/proxy/…: authorised by the host's RBAC for
// clusters/proxy on that Cluster (a SubjectAccessReview as the caller), then forwarded to the member
// impersonating the caller, so the member's own RBAC decides what the caller may do there. The
// gateway's credential never acts for a caller in a member.
type clusterProxy struct {
	configs    ClusterConfigs
	authorizer authorizer.UnconditionalAuthorizer

	mu      sync.Mutex
	proxies map[string]cachedProxy
	now     func() time.Time
}

type cachedProxy struct {
	proxy   *hostProxy
	expires time.Time
}

func newClusterProxy(configs ClusterConfigs, a authorizer.UnconditionalAuthorizer) *clusterProxy {
	return &clusterProxy{configs: configs, authorizer: a, proxies: map[string]cachedProxy{}, now: time.Now}
}

// routes adds the cluster proxy's two paths to r.
func (p *clusterProxy) routes(r *mux.Router) {
	r.PathPrefix("/clusters/{cluster}/").Handler(p.handler("/clusters/{cluster}"))
	r.PathPrefix("/apis/cluster.karmada.io/v1alpha1/clusters/{cluster}/proxy/").
		Handler(p.handler("/apis/cluster.karmada.io/v1alpha1/clusters/{cluster}/proxy"))
}

// handler serves one of the prefixes (with {cluster} in it).
func (p *clusterProxy) handler(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cluster := mux.Vars(r)["cluster"]
		u, ok := request.UserFrom(r.Context())
		if !ok {
			writeStatus(w, r, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
			return
		}
		verb := connectVerb(r.Method)
		attrs := authorizer.AttributesRecord{User: u, Verb: verb, APIGroup: "cluster.karmada.io", APIVersion: "v1alpha1",
			Resource: "clusters", Subresource: "proxy", Name: cluster, ResourceRequest: true}
		if d, reason, err := p.authorizer.Authorize(r.Context(), attrs); d != authorizer.DecisionAllow {
			msg := fmt.Sprintf("clusters.cluster.karmada.io %q is forbidden: User %q cannot %s resource \"clusters/proxy\" in API group \"cluster.karmada.io\"", cluster, u.GetName(), verb)
			if reason != "" {
				msg += ": " + reason
			}
			if err != nil {
				msg += ": " + err.Error()
			}
			writeStatus(w, r, http.StatusForbidden, metav1.StatusReasonForbidden, msg)
			return
		}
		hp, err := p.proxyFor(r.Context(), cluster)
		if err != nil {
			code, reason := http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable
			if apierrors.IsNotFound(err) {
				code, reason = http.StatusNotFound, metav1.StatusReasonNotFound
			}
			writeStatus(w, r, code, reason, fmt.Sprintf("cluster %s: %v", cluster, err))
			return
		}
		rest := strings.TrimPrefix(r.URL.Path, strings.Replace(prefix, "{cluster}", cluster, 1))
		if rest == "" {
			rest = "/"
		}
		out := r.Clone(r.Context())
		out.URL.Path, out.URL.RawPath = rest, ""
		hp.ServeHTTP(w, out)
	})
}

// connectVerb is the verb kube-apiserver authorises a connect subresource (such as proxy) with.
func connectVerb(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return "get"
}

// proxyFor returns the reverse proxy to cluster, built from its impersonating credential and kept
// for clusterProxyTTL (so rotated credentials are picked up).
func (p *clusterProxy) proxyFor(ctx context.Context, cluster string) (*hostProxy, error) {
	p.mu.Lock()
	c, ok := p.proxies[cluster]
	p.mu.Unlock()
	if ok && p.now().Before(c.expires) {
		return c.proxy, nil
	}
	cfg, err := p.configs.ImpersonatorConfig(ctx, cluster)
	if err != nil {
		return nil, err
	}
	hp, err := newHostProxy(cfg)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.proxies[cluster] = cachedProxy{proxy: hp, expires: p.now().Add(clusterProxyTTL)}
	p.mu.Unlock()
	return hp, nil
}
