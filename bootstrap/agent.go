package bootstrap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
)

// AgentOptions are what a Pull member's agent needs.
type AgentOptions struct {
	// Gateway is the gateway's host:port.
	Gateway string
	// Dir holds what register wrote: the agent's key and certificate and the gateway's CA.
	Dir string
	// Member is the agent's own access to its apiserver; what the gateway asks for through the
	// tunnel is done with it (impersonating whom the gateway names).
	Member *rest.Config
	// OnConnect, when set, is called each time the gateway has accepted the tunnel.
	OnConnect func()
}

// RunAgent keeps the member's tunnel to the gateway open until ctx ends: the gateway's requests
// reach a reverse proxy to the member's apiserver, served on a loopback listener only the tunnel
// dials. The certificate is read from Dir at every connection, so a renewed one is used from the
// next connection on.
func RunAgent(ctx context.Context, o AgentOptions) error {
	caPEM, err := os.ReadFile(filepath.Join(o.Dir, GatewayCAFile))
	if err != nil {
		return fmt.Errorf("agent: the gateway's CA (run register first): %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("agent: %s holds no certificate", filepath.Join(o.Dir, GatewayCAFile))
	}
	certificate := func() (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(filepath.Join(o.Dir, AgentCertFile), filepath.Join(o.Dir, AgentKeyFile))
		if err != nil {
			return nil, fmt.Errorf("agent certificate: %w", err)
		}
		return &c, nil
	}
	if _, err := certificate(); err != nil {
		return err
	}
	proxy, err := tunnel.NewAPIServerProxy(o.Member)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("agent: listen for the tunnel's requests: %w", err)
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Close()
	local := lis.Addr().String()
	klog.FromContext(ctx).Info("Agent running", "gateway", o.Gateway, "member", o.Member.Host)
	err = tunnel.Run(ctx, tunnel.Options{
		URL:         "wss://" + o.Gateway + tunnel.Path,
		Certificate: certificate,
		RootCAs:     roots,
		Address:     tunnel.AgentAddress,
		OnConnect:   o.OnConnect,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, local)
		},
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
