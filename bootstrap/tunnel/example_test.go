package tunnel_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"

	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
)

// The gateway mounts the Server and reaches a Pull cluster through its tunnel.
func ExampleServer() {
	var gatewayCA *x509.CertPool // the CA that signs agent certificates
	tunnels, err := tunnel.NewServer(tunnel.ServerOptions{
		TrustedCAs: func() []*x509.CertPool { return []*x509.CertPool{gatewayCA} },
		Allower: tunnel.AllowerFunc(func(cluster string, _ *x509.Certificate) error {
			return nil // the Cluster exists, is in Pull mode and is not being deleted
		}),
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle(tunnel.Path, tunnels)

	// The agent of member2 allows the gateway to dial its apiserver proxy at 127.0.0.1:6444.
	cfg := &rest.Config{Host: "http://127.0.0.1:6444", Dial: tunnels.DialerFor("member2")}
	_ = cfg
}

// The agent keeps the tunnel open and serves its apiserver proxy at the address it allows.
func ExampleRun() {
	ctx := context.Background()
	var (
		inCluster *rest.Config // the agent's own identity in its member
		cert      func() (*tls.Certificate, error)
		gatewayCA *x509.CertPool
	)
	proxy, err := tunnel.NewAPIServerProxy(inCluster)
	if err != nil {
		panic(err)
	}
	go func() { _ = http.ListenAndServe("127.0.0.1:6444", proxy) }()
	_ = tunnel.Run(ctx, tunnel.Options{
		URL:         "wss://gateway.example:8443" + tunnel.Path,
		Certificate: cert,
		RootCAs:     gatewayCA,
		Address:     "127.0.0.1:6444",
	})
}
