package bootstrap

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/keyutil"

	"github.com/fleetgate/fleetgate/bootstrap/token"
	"github.com/fleetgate/fleetgate/certs"
)

// RegisterOptions are register's inputs.
type RegisterOptions struct {
	// Gateway is the gateway's host:port.
	Gateway string
	// Token is a bootstrap token (<id>.<secret>).
	Token string
	// CAHash pins the gateway's CA: sha256:<hex> of its DER SubjectPublicKeyInfo.
	CAHash string
	// Cluster is the name to register under.
	Cluster string
	// Dir receives the agent's key, certificate and the gateway's CA.
	Dir string
	Out io.Writer
}

// Agent files in RegisterOptions.Dir.
const (
	// AgentCredentialsFile holds the agent's certificate and then its key (PEM), like kubelet's
	// kubelet-client-current.pem: one file, replaced at once, so a reader never sees a certificate
	// with another certificate's key.
	AgentCredentialsFile = "agent.pem"
	GatewayCAFile        = "gateway-ca.crt"
)

var pinPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Register registers a Pull member: it reads the gateway's cluster-info without credentials,
// checks its signature with the token and the gateway's CA against the pin — and stops there,
// before the token is ever sent, when either is wrong — then sends a CSR for a key made here,
// authenticated by the token, and writes the key, the agent certificate and the gateway's CA to
// Dir. The private key never leaves this machine.
func Register(ctx context.Context, o RegisterOptions) error {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	id, secret, err := token.Parse(o.Token)
	if err != nil {
		return fmt.Errorf("--token: %w", err)
	}
	if !pinPattern.MatchString(o.CAHash) {
		return fmt.Errorf("--discovery-token-ca-cert-hash %q: want sha256:<64 hex digits>", o.CAHash)
	}
	if errs := validation.IsDNS1123Label(o.Cluster); len(errs) > 0 {
		return fmt.Errorf("--cluster-name %q: %v", o.Cluster, errs)
	}
	fmt.Fprintf(out, "[preflight] Running pre-flight checks\n")
	fmt.Fprintf(out, "[discovery] Reading cluster-info from https://%s (not yet trusted: its signature and the CA pin decide)\n", o.Gateway)
	server, caPEM, err := discover(ctx, o.Gateway, id, secret)
	if err != nil {
		return err
	}
	ca, err := firstCert(caPEM)
	if err != nil {
		return fmt.Errorf("[discovery] cluster-info's CA: %w", err)
	}
	if got := certs.PinHash(ca); got != o.CAHash {
		return fmt.Errorf("[discovery] the gateway's CA is %s, not %s (--discovery-token-ca-cert-hash): stopping before the token is sent", got, o.CAHash)
	}
	fmt.Fprintf(out, "[discovery] cluster-info is signed by the token and its CA matches the pin; the gateway is %s\n", server)

	fmt.Fprintf(out, "[tls-bootstrap] Generating the agent's key and requesting its certificate\n")
	key, csrPEM, err := NewAgentCSR(o.Cluster)
	if err != nil {
		return fmt.Errorf("[tls-bootstrap] %w", err)
	}
	resp, err := requestCertificate(ctx, server, caPEM, o.Token, RegisterRequest{Cluster: o.Cluster, CSR: string(csrPEM)})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(o.Dir, GatewayCAFile), caPEM); err != nil {
		return fmt.Errorf("[tls-bootstrap] %w", err)
	}
	if err := writeFileAtomic(filepath.Join(o.Dir, AgentCredentialsFile), append([]byte(resp.Certificate), key...)); err != nil {
		return fmt.Errorf("[tls-bootstrap] %w", err)
	}
	cert, _ := firstCert([]byte(resp.Certificate))
	fmt.Fprintf(out, "[tls-bootstrap] The agent's certificate (%s, valid until %s) is in %s\n",
		cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339), o.Dir)
	fmt.Fprintf(out, "cluster(%s) is registered in Pull mode\n", o.Cluster)
	return nil
}

// writeFileAtomic writes data to path through a temporary file renamed into place (mode 0600).
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// LoadAgentCredentials reads the agent's certificate and key from dir (AgentCredentialsFile).
func LoadAgentCredentials(dir string) (tls.Certificate, error) {
	path := filepath.Join(dir, AgentCredentialsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("agent credentials (run register first): %w", err)
	}
	pair, err := tls.X509KeyPair(data, data)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("agent credentials %s: %w", path, err)
	}
	return pair, nil
}

// NewAgentCSR generates a new ECDSA P-256 key for cluster's agent and a CSR for it (both PEM).
func NewAgentCSR(cluster string) (keyPEM, csrPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate a key: %w", err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: AgentCommonName(cluster), Organization: []string{AgentGroup}},
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create the CSR: %w", err)
	}
	if keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key); err != nil {
		return nil, nil, err
	}
	return keyPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}), nil
}

// discover reads cluster-info insecurely (nothing but the gateway's address is trusted yet) and
// checks its signature with the token; it sends no credentials.
func discover(ctx context.Context, gateway, id, secret string) (server string, caPEM []byte, err error) {
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // checked by signature and pin below
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+gateway+token.ClusterInfoPath, nil)
	if err != nil {
		return "", nil, fmt.Errorf("[discovery] %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("[discovery] read cluster-info: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("[discovery] read cluster-info: %s", resp.Status)
	}
	var cm corev1.ConfigMap
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&cm); err != nil {
		return "", nil, fmt.Errorf("[discovery] decode cluster-info: %w", err)
	}
	server, caPEM, err = token.VerifyClusterInfo(&cm, id, secret)
	if err != nil {
		return "", nil, fmt.Errorf("[discovery] %w", err)
	}
	return server, caPEM, nil
}

// requestCertificate sends the CSR to the gateway, trusting only the pinned CA.
func requestCertificate(ctx context.Context, server string, caPEM []byte, tok string, r RegisterRequest) (*RegisterResponse, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("[tls-bootstrap] the gateway's CA does not parse")
	}
	c := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body, _ := json.Marshal(r)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+RegisterPath, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("[tls-bootstrap] %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("[tls-bootstrap] send the CSR: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var st metav1.Status
		if json.Unmarshal(data, &st) == nil && st.Message != "" {
			return nil, fmt.Errorf("[tls-bootstrap] the gateway refused the registration (%s): %s", resp.Status, st.Message)
		}
		return nil, fmt.Errorf("[tls-bootstrap] the gateway refused the registration: %s", resp.Status)
	}
	var out RegisterResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("[tls-bootstrap] decode the answer: %w", err)
	}
	if _, err := firstCert([]byte(out.Certificate)); err != nil {
		return nil, fmt.Errorf("[tls-bootstrap] the agent certificate: %w", err)
	}
	return &out, nil
}

func firstCert(p []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(p)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}
