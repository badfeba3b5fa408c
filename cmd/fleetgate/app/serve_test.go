package app

import (
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
