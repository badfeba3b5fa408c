package proxy

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/rest"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/proxy/memberview"
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

	// view and members serve /clusters/*/… (nil: that path names no cluster).
	view    *memberview.View
	members func() []*clusterv1alpha1.Cluster

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
		rest := strings.TrimPrefix(r.URL.Path, strings.Replace(prefix, "{cluster}", cluster, 1))
		if rest == "" {
			rest = "/"
		}
		out := r.Clone(r.Context())
		out.URL.Path, out.URL.RawPath = rest, ""
		if cluster == "*" && p.view != nil {
			p.merged(w, out, u)
			return
		}
		if msg := p.authorize(r.Context(), u, r.Method, cluster); msg != "" {
			writeStatus(w, r, http.StatusForbidden, metav1.StatusReasonForbidden, msg)
			return
		}
		memberAccess{p}.Proxy(cluster, w, out)
	})
}

// authorize asks the host whether u may use the proxy of cluster with method; it returns the
// refusal's message, or "" when allowed.
func (p *clusterProxy) authorize(ctx context.Context, u user.Info, method, cluster string) string {
	verb := connectVerb(method)
	attrs := authorizer.AttributesRecord{User: u, Verb: verb, APIGroup: "cluster.karmada.io", APIVersion: "v1alpha1",
		Resource: "clusters", Subresource: "proxy", Name: cluster, ResourceRequest: true}
	d, reason, err := p.authorizer.Authorize(ctx, attrs)
	if d == authorizer.DecisionAllow {
		return ""
	}
	msg := fmt.Sprintf("clusters.cluster.karmada.io %q is forbidden: User %q cannot %s resource \"clusters/proxy\" in API group \"cluster.karmada.io\"", cluster, u.GetName(), verb)
	if reason != "" {
		msg += ": " + reason
	}
	if err != nil {
		msg += ": " + err.Error()
	}
	return msg
}

// merged serves /clusters/*/…: the merged view of every member the caller may proxy to (each
// authorised as for its own /clusters/{name}/), with r's path already relative to the members.
// Requests that are not about resources (discovery, /version) go to the first Ready one of them.
func (p *clusterProxy) merged(w http.ResponseWriter, r *http.Request, u user.Info) {
	var allowed []*clusterv1alpha1.Cluster
	var refused []string
	for _, c := range p.members() {
		if msg := p.authorize(r.Context(), u, r.Method, c.Name); msg != "" {
			refused = append(refused, msg)
			continue
		}
		allowed = append(allowed, c)
	}
	if len(allowed) == 0 && len(refused) > 0 {
		writeStatus(w, r, http.StatusForbidden, metav1.StatusReasonForbidden, refused[0])
		return
	}
	info, err := requestInfo.NewRequestInfo(r)
	if err != nil {
		writeStatus(w, r, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	if info.IsResourceRequest {
		p.view.Serve(w, r.WithContext(request.WithRequestInfo(r.Context(), info)), info, memberview.Scope{Clusters: allowed})
		return
	}
	slices.SortFunc(allowed, func(a, b *clusterv1alpha1.Cluster) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range allowed {
		if clusterv1alpha1.IsReady(c) {
			memberAccess{p}.Proxy(c.Name, w, r)
			return
		}
	}
	writeStatus(w, r, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, "no Ready member cluster")
}

// memberAccess reaches members for the merged views, as the caller.
type memberAccess struct{ p *clusterProxy }

func (m memberAccess) Do(cluster string, req *http.Request) (*http.Response, error) {
	hp, err := m.p.proxyFor(req.Context(), cluster)
	if err != nil {
		return nil, err
	}
	return hp.Do(req)
}

func (m memberAccess) Proxy(cluster string, w http.ResponseWriter, r *http.Request) {
	hp, err := m.p.proxyFor(r.Context(), cluster)
	if err != nil {
		code, reason := http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable
		if apierrors.IsNotFound(err) {
			code, reason = http.StatusNotFound, metav1.StatusReasonNotFound
		}
		writeStatus(w, r, code, reason, fmt.Sprintf("cluster %s: %v", cluster, err))
		return
	}
	hp.ServeHTTP(w, r)
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
	hp, err := newHostProxy(cfg, "cluster "+cluster, Impersonate)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.proxies[cluster] = cachedProxy{proxy: hp, expires: p.now().Add(clusterProxyTTL)}
	p.mu.Unlock()
	return hp, nil
}
