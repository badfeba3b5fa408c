package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"

	"github.com/gorilla/mux"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/filters/impersonation"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/proxy/memberview"
)

// Config is what the front door needs. Every field is required.
type Config struct {
	// Host is the gateway's credential for the requests it proxies to the host control plane: its
	// own (HostIdentity Impersonate) or a front-proxy client certificate (FrontProxy).
	Host *rest.Config
	// HostIdentity is how proxied requests tell the host whom they are for (zero: Impersonate).
	HostIdentity Identity
	// Authenticator identifies callers (NewAuthenticator).
	Authenticator authenticator.Request
	// Authorizer answers the gateway's own questions, such as "may this caller impersonate that
	// user" (NewAuthorizer).
	Authorizer authorizer.UnconditionalAuthorizer
	// Ready reports whether the gateway can serve (used by /readyz).
	Ready func() error
	// Metrics records requests (NewMetrics).
	Metrics *Metrics
	// Profiling serves /debug/pprof/ to callers the host allows to get that non-resource URL.
	Profiling bool
	// Public are served at their exact paths without authentication (the admission webhook the
	// host calls). They must answer questions only, never act for the caller.
	Public map[string]http.Handler
	// Authenticated are served at their exact paths to authenticated callers (the user in the
	// request's context), before anything else; they authorise the caller themselves.
	Authenticated map[string]http.Handler
	// Writes, when set, is the write pipeline (pipeline.Pipeline): the requests it Handles go
	// through it; nil: every request goes straight to the host.
	Writes Writes
	// Clusters, when set, serves the cluster proxy (/clusters/{name}/… and Karmada's
	// …/clusters/{name}/proxy/…) with the members' impersonating credentials. Nil: those paths go
	// to the host like any other.
	Clusters ClusterConfigs
	// MemberView, when set (with Clusters), serves the merged member views: its Resources (the
	// default view) at their usual paths, any resource under /clusters/*/.
	MemberView *MemberViewConfig
	// Limits bound in-flight requests and body reads (zero: no limits).
	Limits Limits
}

// Writes is a write path of its own for some requests: the one decision which (Handles) and how
// they are served.
type Writes interface {
	http.Handler
	Handles(info *request.RequestInfo) bool
}

// MemberViewConfig is what the merged member views need besides the members' credentials.
type MemberViewConfig struct {
	// Members returns the joined clusters.
	Members func() []*clusterv1alpha1.Cluster
	// Owners maps owner references between member copies and templates (may be nil).
	Owners memberview.Owners
	// Resources are the member-native resources of the default view.
	Resources []schema.GroupResource
	// KindFor names a resource's kind (for answers no member gave; may be nil).
	KindFor func(schema.GroupVersionResource) (schema.GroupVersionKind, error)
}

func (c Config) validate() error {
	var errs []error
	if c.Host == nil {
		errs = append(errs, errors.New("proxy config: Host is required"))
	}
	if c.Authenticator == nil {
		errs = append(errs, errors.New("proxy config: Authenticator is required"))
	}
	if c.Authorizer == nil {
		errs = append(errs, errors.New("proxy config: Authorizer is required"))
	}
	if c.Ready == nil {
		errs = append(errs, errors.New("proxy config: Ready is required"))
	}
	if c.Metrics == nil {
		errs = append(errs, errors.New("proxy config: Metrics is required"))
	}
	return errors.Join(errs...)
}

// requestInfo is the resolver the filters and routes share (it is read-only, so safe to share):
// the request path parses with it instead of building a resolver per request.
var requestInfo = NewRequestInfoResolver()

// NewRequestInfoResolver parses Kubernetes API paths the way kube-apiserver does.
func NewRequestInfoResolver() request.RequestInfoResolver {
	return &request.RequestInfoFactory{
		APIPrefixes:          sets.NewString("api", "apis"),
		GrouplessAPIPrefixes: sets.NewString("api"),
	}
}

// NewHandler assembles the front door. A request passes the filters in this order:
//
//  1. panic recovery;
//  2. request info (verb, group, resource, namespace, name, subresource) into the context;
//  3. the body read deadline (Limits.BodyReadTimeout) for requests that are not long-running;
//  4. /healthz, /livez, /readyz and Config.Public — answered here, without authentication (the
//     public endpoints under an in-flight limit of their own);
//  5. metrics (counts and latency by verb, group, resource and code);
//  6. authentication — 401 unless a client certificate of the gateway CA or a bearer token that
//     the host's TokenReview accepts (429 with Retry-After when too many unknown tokens are being
//     reviewed); strips Authorization and X-Remote-* on success;
//  7. impersonation — Impersonate-* honoured only if the host's SubjectAccessReview allows the
//     caller to impersonate; the headers are removed and the context user replaced;
//  8. the in-flight limit (Limits; after authentication and impersonation, as in kube-apiserver:
//     system:masters is exempt, long-running requests are not counted; 429 with Retry-After);
//  9. the router: /metrics, /debug/pprof/ (if profiling), the merged member views of the
//     member-native resources (reads, subresources and writes by name: package memberview, each
//     member as the context user), the cluster proxy (clusters/proxy checked on the host, then the
//     member as the context user; /clusters/*/ merged), writes of propagatable kinds through the
//     write pipeline (Config.Writes: package pipeline), then everything else to the host as the
//     context user.
func NewHandler(c Config) (http.Handler, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	host, err := newHostProxy(c.Host, "host control plane", c.HostIdentity)
	if err != nil {
		return nil, err
	}
	router := mux.NewRouter()
	for path, h := range c.Authenticated {
		router.Handle(path, h)
	}
	router.Handle("/metrics", c.Metrics.Handler())
	router.Handle("/readyz", readyVerbose(c.Ready)) // ?verbose only: withPublic answers the rest
	if c.Profiling {
		// As kube-apiserver has it: the caller must be allowed to get the non-resource URL.
		router.Handle("/debug/pprof/profile", allowNonResource(c.Authorizer, http.HandlerFunc(pprof.Profile)))
		router.Handle("/debug/pprof/trace", allowNonResource(c.Authorizer, http.HandlerFunc(pprof.Trace)))
		router.PathPrefix("/debug/pprof/").Handler(allowNonResource(c.Authorizer, http.HandlerFunc(pprof.Index)))
	}
	// toHost serves what no member view takes: writes of propagatable kinds through the admission
	// pipeline, everything else straight to the host.
	var toHost http.Handler = host
	if c.Writes != nil {
		toHost = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info, ok := request.RequestInfoFrom(r.Context())
			if ok && c.Writes.Handles(info) {
				c.Writes.ServeHTTP(w, r)
				return
			}
			host.ServeHTTP(w, r)
		})
	}
	if c.Clusters != nil {
		cp := newClusterProxy(c.Clusters, c.Authorizer)
		if c.MemberView != nil {
			view := memberview.New(memberview.Config{
				Members:   c.MemberView.Members,
				Clusters:  memberAccess{cp},
				Owners:    c.MemberView.Owners,
				Resources: c.MemberView.Resources,
				KindFor:   c.MemberView.KindFor,
				Host:      host,
				Next:      toHost,
			})
			cp.view, cp.members = view, c.MemberView.Members
			router.MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool {
				info, ok := request.RequestInfoFrom(r.Context())
				return ok && view.Serves(info)
			}).Handler(view)
		}
		cp.routes(router)
	}
	router.PathPrefix("/").Handler(toHost)

	codecs := scheme.Codecs.WithoutConversion()
	var h http.Handler = router
	h = withMaxInFlight(h, c.Limits)
	h = impersonation.WithImpersonation(h, c.Authorizer, codecs)
	h = authenticatedMetrics(h)
	h = filters.WithAuthentication(h, throttledAuthenticator(c.Authenticator), http.HandlerFunc(authenticationFailed), nil, nil)
	h = withAuthnThrottle(h)
	h = withMetrics(h, c.Metrics)
	h = withPublic(h, c.Ready, limitPublic(c.Public, c.Limits))
	h = withBodyReadDeadline(h, c.Limits.BodyReadTimeout)
	h = filters.WithRequestInfo(h, requestInfo)
	h = withPanicRecovery(h)
	return h, nil
}

// limitPublic puts the public endpoints under one in-flight limit of their own (their callers are
// not authenticated, so none is exempt).
func limitPublic(public map[string]http.Handler, l Limits) map[string]http.Handler {
	limited := withMaxInFlight(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		public[r.URL.Path].ServeHTTP(w, r)
	}), l)
	out := make(map[string]http.Handler, len(public))
	for path := range public {
		out[path] = limited
	}
	return out
}

func unauthorized(w http.ResponseWriter, r *http.Request) {
	writeStatus(w, r, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
}

// withPanicRecovery turns a panic in a handler into a 500 instead of a dropped connection, except
// for http.ErrAbortHandler, which is how handlers (and the reverse proxy) abort a response on purpose.
func withPanicRecovery(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeStatus(w, r, http.StatusInternalServerError, metav1.StatusReasonInternalError,
					fmt.Sprintf("internal error: %v", v))
			}
		}()
		h.ServeHTTP(w, r)
	})
}
