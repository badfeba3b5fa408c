package bootstrap

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/cenkalti/backoff/v4"
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
	// SaveCredentials, when set, stores a renewed agent.pem (certificate, then key) instead of
	// writing it to Dir: for an agent whose Dir is a read-only Secret volume, SecretCredentials
	// writes that Secret. The agent uses the new certificate from memory either way.
	SaveCredentials func(ctx context.Context, agentPEM []byte) error
	// OnConnect, when set, is called each time the gateway has accepted the tunnel.
	OnConnect func()
	// NewRenewBackOff is the policy between failed renewals; default from 5s to 1m, until the
	// certificate expires.
	NewRenewBackOff func() backoff.BackOff
}

// agentCredentials are the agent's current key and certificate, shared by the tunnel (at every
// connection) and the renewal.
type agentCredentials struct {
	dir     string
	cluster string
	save    func(ctx context.Context, agentPEM []byte) error // nil: write dir's file
	current atomic.Pointer[tls.Certificate]                  // Leaf set
}

func loadAgentCredentials(dir string) (*agentCredentials, error) {
	c, err := LoadAgentCredentials(dir)
	if err != nil {
		return nil, err
	}
	cluster, ok := strings.CutPrefix(c.Leaf.Subject.CommonName, AgentUserPrefix)
	if !ok || cluster == "" {
		return nil, fmt.Errorf("agent certificate in %s: subject %q is not an agent's (%s<cluster>)", dir, c.Leaf.Subject.CommonName, AgentUserPrefix)
	}
	creds := &agentCredentials{dir: dir, cluster: cluster}
	creds.current.Store(&c)
	return creds, nil
}

func (c *agentCredentials) certificate() (*tls.Certificate, error) { return c.current.Load(), nil }

// replace writes keyPEM and certPEM to dir (one file, replaced at once), or saves them with save,
// and makes them current.
func (c *agentCredentials) replace(ctx context.Context, keyPEM, certPEM []byte) error {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("the renewed certificate does not match its key: %w", err)
	}
	data := append(slices.Clip(certPEM), keyPEM...)
	if c.save != nil {
		if err := c.save(ctx, data); err != nil {
			return fmt.Errorf("save the renewed certificate: %w", err)
		}
	} else if err := writeFileAtomic(filepath.Join(c.dir, AgentCredentialsFile), data); err != nil {
		return err
	}
	c.current.Store(&pair)
	return nil
}

// renewLoop renews the agent's certificate at 80% of its lifetime, retrying with backoff, until
// ctx ends.
func renewLoop(ctx context.Context, gateway string, roots *x509.CertPool, creds *agentCredentials, newBackOff func() backoff.BackOff) {
	logger := klog.FromContext(ctx).WithValues("cluster", creds.cluster)
	// No kept-alive connections: each renewal must present the current certificate.
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return creds.certificate()
		},
	}}}
	defer client.CloseIdleConnections()
	if newBackOff == nil {
		newBackOff = func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 5*time.Second, time.Minute, 0
			b.Reset()
			return b
		}
	}
	for {
		leaf := creds.current.Load().Leaf
		at := renewAt(leaf)
		logger.V(2).Info("Agent certificate renewal scheduled", "at", at.UTC().Format(time.RFC3339), "notAfter", leaf.NotAfter.UTC().Format(time.RFC3339))
		if !sleepUntil(ctx, at) {
			return
		}
		b := newBackOff()
		for {
			err := renewOnce(ctx, client, gateway, creds)
			if err == nil {
				cur := creds.current.Load().Leaf
				logger.Info("Renewed the agent certificate", "serial", cur.SerialNumber.String(), "notAfter", cur.NotAfter.UTC().Format(time.RFC3339))
				break
			}
			if ctx.Err() != nil {
				return
			}
			wait := b.NextBackOff()
			logger.Error(err, "Renewing the agent certificate failed; retrying", "after", wait, "notAfter", leaf.NotAfter.UTC().Format(time.RFC3339))
			if !sleepUntil(ctx, time.Now().Add(wait)) {
				return
			}
		}
	}
}

// renewOnce sends a CSR for a new key to the gateway, authenticated by the current certificate.
func renewOnce(ctx context.Context, client *http.Client, gateway string, creds *agentCredentials) error {
	keyPEM, csrPEM, err := NewAgentCSR(creds.cluster)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(RegisterRequest{Cluster: creds.cluster, CSR: string(csrPEM)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gateway+RenewPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("send the CSR: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var st metav1.Status
		if json.Unmarshal(data, &st) == nil && st.Message != "" {
			return fmt.Errorf("the gateway refused the renewal (%s): %s", resp.Status, st.Message)
		}
		return fmt.Errorf("the gateway refused the renewal: %s", resp.Status)
	}
	var out RegisterResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	return creds.replace(ctx, keyPEM, []byte(out.Certificate))
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// RunAgent keeps the member's tunnel to the gateway open until ctx ends: the gateway's requests
// reach a reverse proxy to the member's apiserver, served on a loopback listener only the tunnel
// dials. At 80% of its certificate's lifetime it renews it (a new key, a CSR to RenewPath
// authenticated by the current certificate) and writes the new key and certificate to Dir; the
// open tunnel stays, and the next connection uses the new certificate.
func RunAgent(ctx context.Context, o AgentOptions) error {
	caPEM, err := os.ReadFile(filepath.Join(o.Dir, GatewayCAFile))
	if err != nil {
		return fmt.Errorf("agent: the gateway's CA (run register first): %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("agent: %s holds no certificate", filepath.Join(o.Dir, GatewayCAFile))
	}
	creds, err := loadAgentCredentials(o.Dir)
	if err != nil {
		return err
	}
	creds.save = o.SaveCredentials
	proxy, err := tunnel.NewAPIServerProxy(o.Member)
	if err != nil {
		return err
	}
	// The proxy acts with the agent's member credentials: it is served in memory, reachable through
	// the tunnel only, not on a port that any process on this host (or in this pod) could use.
	lis := newPipeListener()
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Close()
	klog.FromContext(ctx).Info("Agent running", "gateway", o.Gateway, "member", o.Member.Host, "cluster", creds.cluster)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		renewLoop(ctx, "https://"+o.Gateway, roots, creds, o.NewRenewBackOff)
	}()
	defer func() { cancel(); <-renewed }()
	err = tunnel.Run(ctx, tunnel.Options{
		URL:         "wss://" + o.Gateway + tunnel.Path,
		Certificate: creds.certificate,
		RootCAs:     roots,
		Address:     tunnel.AgentAddress,
		OnConnect:   o.OnConnect,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return lis.Dial(ctx)
		},
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
