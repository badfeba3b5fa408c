package tunnel

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Subject names of agent certificates.
const (
	// AgentGroup is the organization every agent certificate carries.
	AgentGroup = "system:fleetgate:agents"
	// AgentUserPrefix prefixes the cluster name in an agent certificate's common name.
	AgentUserPrefix = "system:fleetgate:agent:"
)

// AgentCommonName returns the common name of the agent certificate of cluster.
func AgentCommonName(cluster string) string {
	return AgentUserPrefix + cluster
}

var (
	errNoCertificate = errors.New("a client certificate is required")
	errNotAgent      = errors.New("not an agent certificate")
)

// verifyAgent checks that chain (leaf first, as the peer sent it) is a client certificate issued,
// directly or through the intermediates the peer sent, by a CA in one of pools and valid at now, and
// that it names an agent. It returns the cluster the certificate is for.
func verifyAgent(chain []*x509.Certificate, pools []*x509.CertPool, now time.Time) (string, error) {
	if len(chain) == 0 {
		return "", errNoCertificate
	}
	leaf := chain[0]
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	var err error = errors.New("no trusted certificate authority")
	for _, roots := range pools {
		if roots == nil {
			continue
		}
		_, err = leaf.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: intermediates,
			CurrentTime:   now,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err == nil {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("verify client certificate: %w", err)
	}
	return clusterOf(leaf)
}

// clusterOf returns the cluster named by an agent certificate's subject.
func clusterOf(cert *x509.Certificate) (string, error) {
	if !slices.Contains(cert.Subject.Organization, AgentGroup) {
		return "", fmt.Errorf("%w: organization %s is missing", errNotAgent, AgentGroup)
	}
	cluster, ok := strings.CutPrefix(cert.Subject.CommonName, AgentUserPrefix)
	if !ok {
		return "", fmt.Errorf("%w: common name does not start with %s", errNotAgent, AgentUserPrefix)
	}
	if errs := validation.IsDNS1123Label(cluster); len(errs) > 0 {
		return "", fmt.Errorf("%w: cluster name %q: %s", errNotAgent, cluster, strings.Join(errs, "; "))
	}
	return cluster, nil
}
