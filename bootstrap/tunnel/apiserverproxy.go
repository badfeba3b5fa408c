package tunnel

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"

	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/apitransport"
)

// AgentErrorHeader marks an answer the agent made itself because it could not reach its member's
// apiserver (the value says why), as opposed to an answer of that apiserver.
const AgentErrorHeader = "Fleetgate-Agent-Error"

// NewAPIServerProxy returns the handler the agent serves at the end of the tunnel: a reverse proxy
// to the apiserver of cfg that authenticates with cfg's credentials. Whatever Authorization the
// gateway sent is removed, so the member sees the agent's identity; Impersonate-* headers pass
// through, so the agent's identity (which must be allowed to impersonate) acts as the gateway's user.
//
// It speaks HTTP/1.1 to the apiserver (apitransport.HTTP1), so that SPDY upgrades work. When the
// apiserver cannot be reached, it answers 502 with AgentErrorHeader, which
// AgentErrors turns back into a transport error at the gateway.
func NewAPIServerProxy(cfg *rest.Config) (http.Handler, error) {
	target, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("apiserver proxy: %w", err)
	}
	rt, err := apitransport.HTTP1(cfg)
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
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the gateway went away; nobody reads this
			}
			w.Header().Set(AgentErrorHeader, "the member's apiserver is unreachable from its agent: "+oneLine(err.Error()))
			w.WriteHeader(http.StatusBadGateway)
		},
	}, nil
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < ' ' {
			b[i] = ' '
		}
	}
	return string(b)
}

// AgentError is an answer of the agent's proxy saying the member's apiserver is unreachable: a
// transport failure, like a refused connection for a Push member, not an answer of the member.
type AgentError struct {
	Cluster string
	Reason  string
}

func (e *AgentError) Error() string { return fmt.Sprintf("cluster %s: %s", e.Cluster, e.Reason) }

// ErrAgentError matches every *AgentError with errors.Is.
var ErrAgentError = errors.New("agent error")

// Is makes errors.Is(err, ErrAgentError) true.
func (e *AgentError) Is(target error) bool { return target == ErrAgentError }

// AgentErrors wraps the gateway's transport to a Pull cluster: an answer carrying AgentErrorHeader
// becomes an *AgentError, so callers tell "member down" from "member said no" the same way for
// both sync modes.
func AgentErrors(cluster string, rt http.RoundTripper) http.RoundTripper {
	return agentErrors{cluster: cluster, next: rt}
}

type agentErrors struct {
	cluster string
	next    http.RoundTripper
}

func (a agentErrors) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if reason := resp.Header.Get(AgentErrorHeader); reason != "" {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, &AgentError{Cluster: a.cluster, Reason: reason}
	}
	return resp, nil
}

// WrappedRoundTripper lets client-go's debugging and connection helpers see through.
func (a agentErrors) WrappedRoundTripper() http.RoundTripper { return a.next }
