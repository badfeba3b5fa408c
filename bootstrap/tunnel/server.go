package tunnel

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rancher/remotedialer"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Path is where the gateway serves the tunnel by default; agents connect to wss://<gateway><Path>.
const Path = "/tunnel"

// ErrNotConnected is returned when dialing a cluster that has no tunnel open.
var ErrNotConnected = errors.New("no tunnel connected")

// Allower says whether a cluster's agent, presenting cert (already verified), may connect now.
type Allower interface {
	// Allowed returns nil when cluster may connect with cert. Its error is sent to the agent.
	Allowed(cluster string, cert *x509.Certificate) error
}

// AllowerFunc adapts a function to an Allower.
type AllowerFunc func(cluster string, cert *x509.Certificate) error

// Allowed calls f.
func (f AllowerFunc) Allowed(cluster string, cert *x509.Certificate) error { return f(cluster, cert) }

// ServerOptions configure a Server.
type ServerOptions struct {
	// TrustedCAs returns the pools an agent certificate may be issued by (the gateway CA, a
	// cert-manager CA, the old and the new CA during a rotation). It is called at every connection.
	// Required.
	TrustedCAs func() []*x509.CertPool
	// Allower is asked at every connection whether the certificate's cluster may connect. Required.
	Allower Allower
	// Clock tells the time certificates are checked against and ends sessions when their
	// certificate expires. Default: the real clock.
	Clock clock.WithDelayedExecution
	// Changed, when set, is told of a cluster whose agent connected (once Connected reports it)
	// or whose session ended (once Connected no longer counts it), from its own goroutine.
	Changed func(cluster string)
}

// Server is the gateway's end of the tunnels: an http.Handler agents connect to, and a dialer
// through each cluster's tunnel.
type Server struct {
	opts     ServerOptions
	sessions *remotedialer.Server
	conns    registry
}

var _ http.Handler = (*Server)(nil)

// NewServer returns a Server.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.TrustedCAs == nil {
		return nil, errors.New("tunnel server: TrustedCAs is required")
	}
	if opts.Allower == nil {
		return nil, errors.New("tunnel server: Allower is required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	s := &Server{opts: opts}
	// ServeHTTP authenticates the agent before remotedialer sees the request.
	s.sessions = remotedialer.New(func(r *http.Request) (string, bool, error) {
		cluster, ok := clusterFrom(r.Context())
		return cluster, ok, nil
	}, remotedialer.DefaultErrorWriter)
	// ClientConnectAuthorizer stays nil: an agent may not make the gateway dial anything.
	return s, nil
}

// ServeHTTP authenticates an agent by its client certificate, asks the Allower, and serves the
// agent's session until it ends or is dropped. A session ends when its certificate expires, unless
// Extend (a renewal) moves its end.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	logger := klog.FromContext(r.Context())
	cluster, leaf, err := s.Authenticate(r)
	if err != nil {
		logger.V(2).Info("Refused tunnel", "remoteAddr", r.RemoteAddr, "err", err)
		code := http.StatusUnauthorized
		if errors.Is(err, errNotAllowed) {
			code = http.StatusForbidden
		}
		http.Error(w, "tunnel: "+err.Error(), code)
		return
	}

	conn := newAgentConn(cluster)
	s.conns.add(conn)
	defer s.conns.remove(conn)
	conn.expireAt(s.opts.Clock, leaf.NotAfter)
	defer conn.stopExpiry()

	// Only the verified cluster name reaches remotedialer; its peer headers are never honored.
	r = r.WithContext(withCluster(r.Context(), cluster))
	r.Header.Del(remotedialer.ID)
	r.Header.Del(remotedialer.Token)
	logger.V(2).Info("Tunnel connected", "cluster", cluster)
	served := make(chan struct{})
	if s.opts.Changed != nil {
		go func() {
			// remotedialer registers the session once it has upgraded the connection.
			_ = wait.PollUntilContextCancel(r.Context(), 10*time.Millisecond, true, func(context.Context) (bool, error) {
				select {
				case <-served:
					return false, errors.New("ended")
				default:
				}
				return s.sessions.HasSession(cluster), nil
			})
			s.opts.Changed(cluster)
		}()
	}
	s.sessions.ServeHTTP(hijackWriter{ResponseWriter: w, conn: conn}, r)
	close(served)
	logger.V(2).Info("Tunnel disconnected", "cluster", cluster)
	if s.opts.Changed != nil {
		s.opts.Changed(cluster)
	}
}

// errNotAllowed marks Authenticate's refusals by the Allower (a valid certificate of a cluster
// that may not connect).
var errNotAllowed = errors.New("may not connect")

// Authenticate returns the cluster an agent's request stands for: its client certificate must be
// verified by one of the trusted CAs for client authentication, name an agent, and the Allower must
// let that cluster connect. It is the tunnel's check, and the renewal endpoint's.
func (s *Server) Authenticate(r *http.Request) (string, *x509.Certificate, error) {
	var chain []*x509.Certificate
	if r.TLS != nil {
		chain = r.TLS.PeerCertificates
	}
	cluster, err := verifyAgent(chain, s.opts.TrustedCAs(), s.opts.Clock.Now())
	if err != nil {
		return "", nil, err
	}
	if err := s.opts.Allower.Allowed(cluster, chain[0]); err != nil {
		return "", nil, fmt.Errorf("cluster %s %w: %w", cluster, errNotAllowed, err)
	}
	return cluster, chain[0], nil
}

// Extend moves the end of cluster's open sessions to notAfter, when later: the agent has renewed
// its certificate (authenticated by the current one), so the session it opened with that one need
// not end when it expires.
func (s *Server) Extend(cluster string, notAfter time.Time) {
	s.conns.extend(cluster, notAfter, s.opts.Clock.Now())
}

// Dial opens a connection to addr through the tunnel of cluster. The agent refuses any address
// other than the one it was started with, and drops its session when asked for one.
func (s *Server) Dial(ctx context.Context, cluster, network, addr string) (net.Conn, error) {
	if !s.sessions.HasSession(cluster) {
		return nil, fmt.Errorf("cluster %s: %w", cluster, ErrNotConnected)
	}
	conn, err := s.sessions.Dialer(cluster)(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: dial %s through the tunnel: %w", cluster, addr, err)
	}
	return conn, nil
}

// DialerFor returns a dial function through the tunnel of cluster, usable as rest.Config.Dial or
// http.Transport.DialContext.
func (s *Server) DialerFor(cluster string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return s.Dial(ctx, cluster, network, addr)
	}
}

// Connected tells whether cluster has a tunnel open.
func (s *Server) Connected(cluster string) bool {
	return s.sessions.HasSession(cluster)
}

// Close drops the tunnels cluster has open and returns once they are gone; connections through
// them fail. It does not keep the agent from connecting again: make the Allower refuse the cluster
// first (on unjoin or delete).
func (s *Server) Close(cluster string) {
	s.conns.drop(cluster)
}

type clusterKey struct{}

func withCluster(ctx context.Context, cluster string) context.Context {
	return context.WithValue(ctx, clusterKey{}, cluster)
}

func clusterFrom(ctx context.Context) (string, bool) {
	cluster, ok := ctx.Value(clusterKey{}).(string)
	return cluster, ok && cluster != ""
}
