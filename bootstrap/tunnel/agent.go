package tunnel

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
	"github.com/rancher/remotedialer"
	"k8s.io/klog/v2"
)

// Options configure the agent's end of the tunnel.
type Options struct {
	// URL is the gateway's tunnel endpoint, wss://<host:port>/tunnel. Required.
	URL string
	// Certificate returns the agent's current client certificate. It is called at every connection,
	// so a renewed certificate is used from the next one on. Required.
	Certificate func() (*tls.Certificate, error)
	// RootCAs verify the gateway's serving certificate. Required.
	RootCAs *x509.CertPool
	// Address ("host:port") is the only address the gateway may dial through the tunnel: the
	// member's apiserver, or the agent's APIServerProxy. The agent refuses any other network or
	// address, and ends the session when asked for one. Required.
	Address string
	// Dial connects to Address on the gateway's behalf. Default: a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// NewBackOff returns the policy for waiting between connection attempts; it is reset once a
	// session has been established. Default: exponential from 1s to 5s (±50%), retrying forever,
	// so that an agent is back within seconds of a gateway restart.
	NewBackOff func() backoff.BackOff
	// OnConnect, when set, is called each time the gateway has accepted a connection (the session
	// is about to be served).
	OnConnect func()
}

// Validate checks that the required options are set.
func (o *Options) Validate() error {
	u, err := url.Parse(o.URL)
	switch {
	case err != nil:
		return fmt.Errorf("tunnel: URL: %w", err)
	case u.Scheme != "wss" || u.Host == "":
		return fmt.Errorf("tunnel: URL %q is not wss://<host>/<path>", o.URL)
	case o.Certificate == nil:
		return errors.New("tunnel: Certificate is required")
	case o.RootCAs == nil:
		return errors.New("tunnel: RootCAs is required")
	}
	if _, _, err := net.SplitHostPort(o.Address); err != nil {
		return fmt.Errorf("tunnel: Address %q: %w", o.Address, err)
	}
	return nil
}

// Run keeps a tunnel open from the agent to the gateway until ctx ends, reconnecting with backoff,
// and dials Options.Address whenever the gateway asks. It returns nil when ctx ends, or an error for
// invalid options or when the backoff policy gives up.
func Run(ctx context.Context, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	logger := klog.FromContext(ctx).WithValues("url", opts.URL)
	dialer := &websocket.Dialer{
		HandshakeTimeout: remotedialer.HandshakeTimeOut,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    opts.RootCAs,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return opts.Certificate()
			},
			NextProtos: []string{"http/1.1"},
		},
	}
	b := newBackOff(opts)
	for {
		established, err := connect(ctx, opts, dialer)
		if ctx.Err() != nil {
			return nil
		}
		if established {
			b.Reset()
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return fmt.Errorf("tunnel to %s: giving up: %w", opts.URL, err)
		}
		logger.Info("Tunnel to the gateway ended; connecting again", "err", err, "after", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// connect serves one session; it tells whether the session was established.
//
// It does not use remotedialer.ConnectToProxy, whose Session.Close runs concurrently with the
// session's own goroutines (a data race in v0.6.1): the session is served here until it ends, then
// the connections it dialed are closed, which ends their copy loops.
func connect(ctx context.Context, opts Options, dialer *websocket.Dialer) (bool, error) {
	ws, resp, err := dialer.DialContext(ctx, opts.URL, nil)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			err = fmt.Errorf("%w: %s: %s", err, resp.Status, bytes.TrimSpace(body))
		}
		return false, fmt.Errorf("connect to the gateway: %w", err)
	}
	klog.FromContext(ctx).V(2).Info("Tunnel to the gateway established", "url", opts.URL)
	if opts.OnConnect != nil {
		opts.OnConnect()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dialed := &localConns{}
	defer dialed.closeAll()
	authorize := func(network, addr string) bool {
		return network == "tcp" && addr == opts.Address
	}
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		// authorize has allowed only opts.Address; dial nothing else even so.
		d := opts.Dial
		if d == nil {
			d = (&net.Dialer{}).DialContext
		}
		conn, err := d(ctx, network, opts.Address)
		if err != nil {
			return nil, err
		}
		return dialed.add(conn), nil
	}
	session := remotedialer.NewClientSessionWithDialer(authorize, ws, dial)
	// remotedialer v0.6.1's pong handler also sets the write deadline, from the reading goroutine,
	// racing with the session's writers (a data race). Ours only extends the read deadline, which
	// only the reading goroutine touches; writes have no deadline but the session's own.
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(remotedialer.PingWaitDuration))
	})
	served := make(chan error, 1)
	go func() {
		_, err := session.Serve(ctx)
		served <- err
	}()
	select {
	case <-ctx.Done():
		_ = ws.Close()
		<-served
		return true, ctx.Err()
	case err := <-served:
		_ = ws.Close()
		return true, err
	}
}

func newBackOff(opts Options) backoff.BackOff {
	if opts.NewBackOff != nil {
		return opts.NewBackOff()
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = time.Second
	b.MaxInterval = 5 * time.Second
	b.MaxElapsedTime = 0
	b.Reset()
	return b
}
