package app

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/certs"
)

func TestServeFrontProxyFlagsComeInPairs(t *testing.T) {
	cmd := newServeCommand()
	cmd.SetArgs([]string{"--host-front-proxy-cert-file", "/nowhere/front-proxy.crt"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.ExecuteContext(t.Context()); err == nil || !strings.Contains(err.Error(), "--host-front-proxy-key-file") {
		t.Errorf("cert without key: %v, want an error naming --host-front-proxy-key-file", err)
	}
}

// TestFrontProxyConfig: proxied requests carry the front-proxy certificate and nothing of the
// gateway's own credential, with the host's server and CA.
func TestFrontProxyConfig(t *testing.T) {
	host := &rest.Config{Host: "https://127.0.0.1:6443", BearerToken: "gateway-token",
		TLSClientConfig: rest.TLSClientConfig{CAData: []byte("host-ca"), CertData: []byte("gateway-cert"), KeyData: []byte("gateway-key")}}
	dir := t.TempDir()
	crtPath, keyPath := filepath.Join(dir, "fp.crt"), filepath.Join(dir, "fp.key")
	if _, err := frontProxyConfig(host, crtPath, keyPath); err == nil || !strings.Contains(err.Error(), "--host-front-proxy-cert-file "+crtPath) {
		t.Errorf("missing files: %v, want an error naming the flag and file", err)
	}
	ca, err := certs.NewCA("front-proxy-ca")
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := ca.Issue(certs.Request{CommonName: "fp", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crtPath, crt, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := frontProxyConfig(host, crtPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != host.Host || string(cfg.CAData) != "host-ca" || cfg.CertFile != crtPath || cfg.KeyFile != keyPath ||
		cfg.BearerToken != "" || cfg.CertData != nil || cfg.KeyData != nil {
		t.Errorf("front-proxy config %+v: want the host's server and CA with only the front-proxy certificate", cfg)
	}
}

// TestServingCertificateBySNI: with --tls-cert-file, a client asking for a name that certificate
// covers gets it; the advertised name (the host's webhook calls), a client without SNI (peers dial
// IPs) and any other name get the certificate the gateway issued itself.
func TestServingCertificateBySNI(t *testing.T) {
	ca, err := certs.NewCA("gateway-ca")
	if err != nil {
		t.Fatal(err)
	}
	other, err := certs.NewCA("cert-manager-ca")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crt, key, err := other.Issue(certs.Request{CommonName: "from-files", DNSNames: []string{"gw.example.com"}, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		t.Fatal(err)
	}
	crtPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(crtPath, crt, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		t.Fatal(err)
	}
	o := serveOptions{BindAddress: "127.0.0.1", AdvertiseAddress: "fleetgate-gateway.fleetgate-system.svc", TLSSANs: []string{"gw.example.com"}}
	serving, err := servingCert(ca, &o)
	if err != nil {
		t.Fatal(err)
	}
	files, err := certs.NewFileCertificate(crtPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	c := &serveConfig{opts: o, serving: serving, files: files}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: c.certificate})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = conn.(*tls.Conn).Handshake(); conn.Close() }()
		}
	}()
	for serverName, want := range map[string]string{
		"gw.example.com":                         "from-files",
		"fleetgate-gateway.fleetgate-system.svc": "fleetgate-gateway",
		"":                                       "fleetgate-gateway",
		"localhost":                              "fleetgate-gateway",
	} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("SNI %q: %v", serverName, err)
		}
		got := conn.ConnectionState().PeerCertificates[0].Subject.CommonName
		conn.Close()
		if got != want {
			t.Errorf("SNI %q: served %q, want %q", serverName, got, want)
		}
	}
}

// TestServeAddressFlags: bad --external-address and half of --tls-cert-file are refused, naming
// the flag; cluster-info names the external address when there is one.
func TestServeAddressFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--external-address", "gw.example.com"},
		{"--external-address", "gw.example.com:0"},
		{"--external-address", "under_score:443"},
		{"--tls-cert-file", "/nowhere/tls.crt"},
	} {
		cmd := newServeCommand()
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.ExecuteContext(t.Context()); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v, want an error naming %s", args, err, args[0])
		}
	}
	c := &serveConfig{opts: serveOptions{BindAddress: "0.0.0.0", SecurePort: 7443, AdvertiseAddress: "fleetgate-gateway.fleetgate-system.svc", AdvertisePort: 443}}
	if got, want := c.clusterInfoURL(), "https://fleetgate-gateway.fleetgate-system.svc:443"; got != want {
		t.Errorf("cluster-info without --external-address: %s, want %s", got, want)
	}
	c.opts.ExternalAddress = "gw.example.com:8443"
	if got, want := c.clusterInfoURL(), "https://gw.example.com:8443"; got != want {
		t.Errorf("cluster-info with --external-address: %s, want %s", got, want)
	}
	if got, want := c.advertiseURL(), "https://fleetgate-gateway.fleetgate-system.svc:443"; got != want {
		t.Errorf("advertised (webhooks) with --external-address: %s, want %s", got, want)
	}
}
