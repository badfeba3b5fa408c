package proxy

import (
	"fmt"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// withPublic answers the endpoints that need no authentication: /healthz and /livez (does the process
// serve at all), /readyz (also asks ready: host reachable, caches synced), and the exact paths in
// public (the host's admission webhook calls, later the bootstrap endpoints).
func withPublic(h http.Handler, ready func() error, public map[string]http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := public[r.URL.Path]; ok {
			p.ServeHTTP(w, r)
			return
		}
		switch r.URL.Path {
		case "/healthz", "/livez":
			writeText(w, http.StatusOK, "ok")
		case "/readyz":
			if _, verbose := r.URL.Query()["verbose"]; verbose {
				h.ServeHTTP(w, r) // why it is not ready is for authenticated callers (readyVerbose)
				return
			}
			if err := ready(); err != nil {
				writeText(w, http.StatusServiceUnavailable, "not ready")
				return
			}
			writeText(w, http.StatusOK, "ok")
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// readyVerbose answers /readyz?verbose for authenticated callers: ok, or why the gateway is not
// ready (which may quote the host's errors).
func readyVerbose(ready func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ready(); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
		writeText(w, http.StatusOK, "ok")
	})
}

// allowNonResource serves h to callers the authorizer allows the request's non-resource URL
// (verb from the method, as kube-apiserver does); others get 403.
func allowNonResource(a authorizer.UnconditionalAuthorizer, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := request.UserFrom(r.Context())
		if !ok {
			writeStatus(w, r, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
			return
		}
		verb := strings.ToLower(r.Method)
		d, reason, err := a.Authorize(r.Context(), authorizer.AttributesRecord{User: u, Verb: verb, Path: r.URL.Path, ResourceRequest: false})
		if err != nil || d != authorizer.DecisionAllow {
			msg := fmt.Sprintf("user %q cannot %s path %q", u.GetName(), verb, r.URL.Path)
			if reason != "" {
				msg += ": " + reason
			}
			writeStatus(w, r, http.StatusForbidden, metav1.StatusReasonForbidden, msg)
			return
		}
		h.ServeHTTP(w, r)
	})
}
