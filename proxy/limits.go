package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
)

// Limits bound what callers may hold of the front door. A zero field means no limit.
type Limits struct {
	// MaxRequestsInFlight and MaxMutatingRequestsInFlight bound the requests being served at once
	// (kube-apiserver's --max-requests-inflight and --max-mutating-requests-inflight: get, list and
	// watch count as non-mutating); a request beyond them is answered 429 with Retry-After.
	// Long-running requests are not counted, nor are callers in system:masters.
	MaxRequestsInFlight, MaxMutatingRequestsInFlight int
	// BodyReadTimeout bounds how long the body of a request that is not long-running may take to
	// arrive: a body that trickles in is cut off and its connection closed.
	BodyReadTimeout time.Duration
}

// basicLongRunning is kube-apiserver's check: watches, proxies and the exec, attach, port-forward,
// log and proxy subresources.
var basicLongRunning = genericfilters.BasicLongRunningRequestCheck(
	sets.NewString("watch", "proxy"), sets.NewString("attach", "exec", "proxy", "log", "portforward"))

// longRunning reports whether a request may last as long as its client wants: kube-apiserver's
// long-running requests, every upgrade (exec, attach and port-forward over WebSocket or SPDY; the
// Pull agents' tunnel) and, through the cluster proxy (/clusters/{name}/…), the long-running
// requests of the member's API. Karmada's …/clusters/{name}/proxy/… is a proxy subresource, long
// running as in kube-apiserver.
func longRunning(r *http.Request, info *request.RequestInfo) bool {
	if httpstream.IsUpgradeRequest(r) || basicLongRunning(r, info) {
		return true
	}
	rest, ok := strings.CutPrefix(info.Path, "/clusters/")
	if !ok || info.IsResourceRequest {
		return false
	}
	_, rest, ok = strings.Cut(rest, "/")
	if !ok {
		return false
	}
	inner := r.Clone(r.Context())
	inner.URL.Path, inner.URL.RawPath = "/"+rest, ""
	innerInfo, err := requestInfo.NewRequestInfo(inner)
	return err == nil && basicLongRunning(inner, innerInfo)
}

// withMaxInFlight is k8s.io/apiserver's max-in-flight filter with longRunning; it needs the
// request info (and the user, for the system:masters exemption) in the context.
func withMaxInFlight(h http.Handler, l Limits) http.Handler {
	return genericfilters.WithMaxInFlightLimit(h, l.MaxRequestsInFlight, l.MaxMutatingRequestsInFlight, longRunning)
}

// withBodyReadDeadline sets a read deadline of timeout on the connection of every request that has
// a body and is not long-running, and lifts it once the body has been read to its end: the rest of
// the request (a slow list, a pipeline waiting for members) is not bound by it. It must wrap the
// server's own ResponseWriter (or ones that unwrap to it). Requests without a body get none: the
// server already reads their connection in the background, and a deadline there would cancel them.
func withBodyReadDeadline(h http.Handler, timeout time.Duration) http.Handler {
	if timeout <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, ok := request.RequestInfoFrom(r.Context())
		if r.Body == nil || r.Body == http.NoBody || (ok && longRunning(r, info)) {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			h.ServeHTTP(w, r) // not a connection (a test recorder): nothing to bound
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, timeout: timeout}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the connection's read deadline at the body's end, and names the deadline when
// it cut the body off.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	done    bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF) && !b.done:
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil && !b.done && isTimeout(err):
		err = fmt.Errorf("request body not received within %s: %w", b.timeout, err)
	}
	return n, err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
