package bootstrap

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/bootstrap/token"
	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
	"github.com/fleetgate/fleetgate/certs"
)

// RegisterPath is where a Pull member's register sends its certificate signing request,
// authenticated by a bootstrap token.
const RegisterPath = "/fleetgate/v1/register"

// Agent certificates name the cluster they stand for (tunnel.AgentCommonName, tunnel.AgentGroup);
// the tunnel takes the cluster from the verified certificate only.
const (
	AgentGroup      = tunnel.AgentGroup
	AgentUserPrefix = tunnel.AgentUserPrefix
)

// AgentCommonName is the common name of cluster's agent certificate.
func AgentCommonName(cluster string) string { return tunnel.AgentCommonName(cluster) }

// RegisterRequest is what register sends.
type RegisterRequest struct {
	// Cluster is the name the member joins under.
	Cluster string `json:"cluster"`
	// CSR is a PEM certificate signing request for the agent's key; its subject is ignored (the
	// certificate's is AgentCommonName(Cluster), AgentGroup).
	CSR string `json:"csr"`
}

// RegisterResponse is what the gateway answers.
type RegisterResponse struct {
	// Certificate is the agent's certificate (PEM).
	Certificate string `json:"certificate"`
	// CA is what signed it (PEM): the gateway's CA or the cert-manager issuer's.
	CA string `json:"ca"`
}

// Signer issues an agent certificate for a CSR (DER): the gateway's CA, or cert-manager.
type Signer interface {
	Sign(ctx context.Context, cluster string, csrDER []byte) (certPEM, caPEM []byte, err error)
}

// Registrar serves RegisterPath: it lets bootstrap-token holders (group token.Group) register a
// Pull cluster: the Cluster is created with syncMode Pull (or found, Pull and not yet registered)
// and the agent's CSR signed. A registered Pull cluster or a Push cluster of that name is never
// touched.
type Registrar struct {
	Clusters *client.Resource[clusterv1alpha1.Cluster, *clusterv1alpha1.Cluster]
	Signer   Signer
}

const maxRegisterBytes = 64 << 10

func (g *Registrar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeStatus(w, apierrors.NewMethodNotSupported(clusterv1alpha1.GroupVersion.WithResource("clusters").GroupResource(), r.Method))
		return
	}
	u, ok := request.UserFrom(r.Context())
	if !ok || !slices.Contains(u.GetGroups(), token.Group) {
		name := "anonymous"
		if ok {
			name = u.GetName()
		}
		writeStatus(w, apierrors.NewForbidden(clusterv1alpha1.GroupVersion.WithResource("clusters").GroupResource(), "",
			fmt.Errorf("user %q may not register clusters: only fleetgate bootstrap tokens (group %s) may", name, token.Group)))
		return
	}
	req, csrDER, err := decodeCSRRequest(r, "register")
	if err != nil {
		writeStatus(w, err)
		return
	}
	ctx := r.Context()
	if err := g.ensureCluster(ctx, req.Cluster, u.GetName()); err != nil {
		writeStatus(w, err)
		return
	}
	certPEM, caPEM, err := g.Signer.Sign(ctx, req.Cluster, csrDER)
	if err != nil {
		writeStatus(w, apierrors.NewInternalError(fmt.Errorf("register cluster %s: sign the agent certificate: %w", req.Cluster, err)))
		return
	}
	cert, err := firstCert(certPEM)
	if err != nil {
		writeStatus(w, apierrors.NewInternalError(fmt.Errorf("register cluster %s: the signer's answer: %w", req.Cluster, err)))
		return
	}
	if err := admit(ctx, g.Clusters, req.Cluster, cert); err != nil {
		writeStatus(w, apierrors.NewInternalError(fmt.Errorf("register cluster %s: record the agent certificate on the Cluster: %w", req.Cluster, err)))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(RegisterResponse{Certificate: string(certPEM), CA: string(caPEM)})
}

// decodeCSRRequest reads a RegisterRequest: a valid cluster name and a PEM CSR whose signature
// verifies (what is asked for is the signer's to check). Errors are APIStatus errors; what names
// the endpoint in them.
func decodeCSRRequest(r *http.Request, what string) (RegisterRequest, []byte, error) {
	var req RegisterRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRegisterBytes+1))
	if err != nil || len(body) > maxRegisterBytes {
		return req, nil, apierrors.NewBadRequest(what + ": the request body is unreadable or larger than 64 KiB")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, nil, apierrors.NewBadRequest(fmt.Sprintf("%s: decode the request: %v", what, err))
	}
	if errs := validation.IsDNS1123Label(req.Cluster); len(errs) > 0 {
		return req, nil, apierrors.NewBadRequest(fmt.Sprintf("%s: cluster name %q: %s", what, req.Cluster, strings.Join(errs, "; ")))
	}
	block, _ := pem.Decode([]byte(req.CSR))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return req, nil, apierrors.NewBadRequest(what + ": csr is not a PEM CERTIFICATE REQUEST")
	}
	if csr, err := x509.ParseCertificateRequest(block.Bytes); err != nil || csr.CheckSignature() != nil {
		return req, nil, apierrors.NewBadRequest(what + ": csr does not parse or its signature does not verify")
	}
	return req, block.Bytes, nil
}

// ensureCluster creates the Pull Cluster, or accepts an existing Pull one whose registration never
// completed (no agent certificate recorded). A registered one is a conflict: any bootstrap token
// could otherwise take over its identity (the new certificate would be admitted and the agent's
// own refused from its next renewal), so registering a name again takes an unjoin first, by
// someone who may delete Clusters. A Push Cluster of that name is a conflict too.
func (g *Registrar) ensureCluster(ctx context.Context, name, by string) error {
	gr := clusterv1alpha1.GroupVersion.WithResource("clusters").GroupResource()
	c, err := g.Clusters.Get(ctx, "", name)
	switch {
	case err == nil && c.DeletionTimestamp != nil:
		return apierrors.NewConflict(gr, name, fmt.Errorf("cluster %s is being deleted; register again once it is gone", name))
	case err == nil && c.Spec.SyncMode != clusterv1alpha1.Pull:
		return apierrors.NewConflict(gr, name, fmt.Errorf("cluster %s is joined in %s mode; unjoin it first", name, c.Spec.SyncMode))
	case err == nil && c.Annotations[AgentCertificatesAnnotation] != "":
		return apierrors.NewConflict(gr, name, fmt.Errorf("cluster %s is already registered and its agent holds a certificate; "+
			"a bootstrap token cannot register it again: unjoin it first (fleetgate unjoin %s), then register", name, name))
	case err == nil:
		return nil
	case !apierrors.IsNotFound(err):
		return apierrors.NewInternalError(fmt.Errorf("read cluster %s: %w", name, err))
	}
	cluster := &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"fleetgate.io/registered-by": by}},
		Spec:       clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Pull},
	}
	if _, err := g.Clusters.Create(ctx, cluster, metav1.CreateOptions{FieldManager: managedByValue}); err != nil && !apierrors.IsAlreadyExists(err) {
		return apierrors.NewInternalError(fmt.Errorf("create cluster %s: %w", name, err))
	}
	return nil
}

// DefaultAgentLifetime is an agent certificate's lifetime from the gateway's CA; the agent renews
// it at 80%.
const DefaultAgentLifetime = 30 * 24 * time.Hour

// CASigner signs agent certificates with the gateway's CA.
type CASigner struct {
	CA       *certs.CA
	Lifetime time.Duration // DefaultAgentLifetime when zero
}

// Sign implements Signer: client authentication only, the subject from the cluster name.
func (s CASigner) Sign(_ context.Context, cluster string, csrDER []byte) ([]byte, []byte, error) {
	lifetime := s.Lifetime
	if lifetime == 0 {
		lifetime = DefaultAgentLifetime
	}
	cert, err := s.CA.SignCSR(csrDER, certs.Request{
		CommonName: AgentCommonName(cluster), Organization: []string{AgentGroup},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, Lifetime: lifetime,
	})
	if err != nil {
		return nil, nil, err
	}
	return cert, s.CA.CertPEM(), nil
}

func writeStatus(w http.ResponseWriter, err error) {
	st, ok := err.(apierrors.APIStatus)
	if !ok {
		st = apierrors.NewInternalError(err)
	}
	s := st.Status()
	s.Kind, s.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(s.Code))
	_ = json.NewEncoder(w).Encode(s)
}
