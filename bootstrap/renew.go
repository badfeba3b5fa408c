package bootstrap

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// RenewPath is where an agent renews its certificate, authenticated by the current one.
const RenewPath = "/fleetgate/v1/renew"

// AgentAuthenticator authenticates agents as the tunnel does (bootstrap/tunnel.Server).
type AgentAuthenticator interface {
	// Authenticate returns the cluster whose agent made r (its verified client certificate) when
	// that cluster may connect.
	Authenticate(r *http.Request) (cluster string, cert *x509.Certificate, err error)
	// Extend lets cluster's open tunnel sessions outlive the certificate they were opened with,
	// up to notAfter.
	Extend(cluster string, notAfter time.Time)
}

// Renewer serves RenewPath, a public path of the front door because it authenticates agents
// itself, exactly as the tunnel does: the current agent certificate (of any trusted issuer), for a
// registered Pull cluster that is not being deleted. It signs a CSR for a new key with the same
// Signer as registration, for the certificate's own cluster only, and extends that cluster's open
// tunnel sessions to the new certificate's end, so that a renewal never drops the tunnel.
type Renewer struct {
	Agents AgentAuthenticator
	Signer Signer
	// Clusters records the new certificate on the Cluster (AgentCertificatesAnnotation), so that
	// it is admitted; the certificate is not handed out when that fails.
	Clusters *client.Resource[clusterv1alpha1.Cluster, *clusterv1alpha1.Cluster]
}

func (g *Renewer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gr := clusterv1alpha1.GroupVersion.WithResource("clusters").GroupResource()
	if r.Method != http.MethodPost {
		writeStatus(w, apierrors.NewMethodNotSupported(gr, r.Method))
		return
	}
	cluster, _, err := g.Agents.Authenticate(r)
	if err != nil {
		writeStatus(w, apierrors.NewUnauthorized("renew: "+err.Error()))
		return
	}
	req, csrDER, err := decodeCSRRequest(r, "renew")
	if err != nil {
		writeStatus(w, err)
		return
	}
	if req.Cluster != cluster {
		writeStatus(w, apierrors.NewForbidden(gr, req.Cluster,
			fmt.Errorf("the agent certificate of cluster %s may renew only cluster %s's certificate", cluster, cluster)))
		return
	}
	certPEM, caPEM, err := g.Signer.Sign(r.Context(), cluster, csrDER)
	if err != nil {
		writeStatus(w, apierrors.NewInternalError(fmt.Errorf("renew cluster %s's agent certificate: %w", cluster, err)))
		return
	}
	cert, err := firstCert(certPEM)
	if err != nil {
		writeStatus(w, apierrors.NewInternalError(fmt.Errorf("renew cluster %s's agent certificate: the signer's answer: %w", cluster, err)))
		return
	}
	if err := admit(r.Context(), g.Clusters, cluster, cert); err != nil {
		writeStatus(w, apierrors.NewInternalError(fmt.Errorf("renew cluster %s's agent certificate: record it on the Cluster: %w", cluster, err)))
		return
	}
	g.Agents.Extend(cluster, cert.NotAfter)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(RegisterResponse{Certificate: string(certPEM), CA: string(caPEM)})
}

// renewAt is when an agent renews a certificate: at 80% of its lifetime.
func renewAt(c *x509.Certificate) time.Time {
	life := c.NotAfter.Sub(c.NotBefore)
	return c.NotBefore.Add(life * 8 / 10)
}
