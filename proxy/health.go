package proxy

import (
	"net/http"
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
