package proxy

import (
	"net/http"
)

// withHealth answers the unauthenticated health endpoints. /healthz and /livez say whether the
// process serves at all; /readyz also asks ready (host reachable, caches synced).
func withHealth(h http.Handler, ready func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/livez":
			writeText(w, http.StatusOK, "ok")
		case "/readyz":
			if err := ready(); err != nil {
				writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
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
