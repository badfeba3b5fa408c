package localenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/util/keyutil"

	"github.com/fleetgate/fleetgate/certs"
)

const (
	hostName = "host"

	// serviceCIDR is every cluster's --service-cluster-ip-range; serviceIP is its kubernetes Service.
	serviceCIDR = "10.96.0.0/16"
	serviceIP   = "10.96.0.1"

	// adminUser is the common name of the admin client certificate of each cluster.
	adminUser = "localenv-admin"
	// GatewayHostUser is the identity the gateway uses with the host (member of system:masters).
	GatewayHostUser = "system:fleetgate:gateway"
	// GatewayFrontProxyUser is the common name of the gateway's front-proxy client certificate, the
	// host's only --requestheader-allowed-names.
	GatewayFrontProxyUser = "fleetgate-front-proxy"
	// GatewayAdminUser is the common name of the admin certificate in gateway.kubeconfig.
	GatewayAdminUser = "fleetgate-admin"
)

// Files in a cluster's directory.
const (
	caCertFile     = "ca.crt"
	caKeyFile      = "ca.key"
	servingCert    = "apiserver.crt"
	servingKey     = "apiserver.key"
	saKeyFile      = "sa.key"
	kwokCertFile   = "kwok.crt"
	kwokKeyFile    = "kwok.key"
	kwokConfigFile = "kwok.yaml"
	podLogFile     = "pod.log"
	// gatewayHostKubeconfig is the gateway's credential for the host, in the host's directory.
	gatewayHostKubeconfig = "fleetgate-gateway.kubeconfig"
	// The host's front-proxy CA (--requestheader-client-ca-file) and the gateway's client
	// certificate from it, in the host's directory.
	frontProxyCACert     = "front-proxy-ca.crt"
	frontProxyCAKey      = "front-proxy-ca.key"
	frontProxyClientCert = "front-proxy-client.crt"
	frontProxyClientKey  = "front-proxy-client.key"
)

// clusterLayout is where a cluster's files are and which ports it listens on.
type clusterLayout struct {
	name     string
	dir      string // <state dir>/clusters/<name>
	etcdURL  string
	apiPort  int
	kwokPort int // workload members only
}

func (l clusterLayout) path(file string) string { return filepath.Join(l.dir, file) }

func (l clusterLayout) server() string { return "https://" + hostPort(l.apiPort) }

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// writePKI creates the cluster's CA, the apiserver serving certificate, the service-account signing
// key and, for kwok, the kubelet serving certificate. It returns the CA and the admin kubeconfig.
func writePKI(l clusterLayout, kwok bool) (*certs.CA, certs.Kubeconfig, error) {
	var admin certs.Kubeconfig
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return nil, admin, err
	}
	ca, err := certs.NewCA(l.name + "-ca")
	if err != nil {
		return nil, admin, err
	}
	caKey, err := ca.KeyPEM()
	if err != nil {
		return nil, admin, err
	}
	if err := writeFiles(l, map[string][]byte{caCertFile: ca.CertPEM(), caKeyFile: caKey}); err != nil {
		return nil, admin, err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	crt, key, err := ca.Issue(certs.Request{
		CommonName: "kube-apiserver",
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		IPs:    append(loopback, net.ParseIP(serviceIP)),
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return nil, admin, err
	}
	if err := writeFiles(l, map[string][]byte{servingCert: crt, servingKey: key}); err != nil {
		return nil, admin, err
	}
	saKey, err := newKeyPEM()
	if err != nil {
		return nil, admin, err
	}
	if err := writeFiles(l, map[string][]byte{saKeyFile: saKey}); err != nil {
		return nil, admin, err
	}
	if kwok {
		crt, key, err := ca.Issue(certs.Request{
			CommonName: l.name + "-kwok",
			DNSNames:   []string{"localhost"},
			IPs:        loopback,
			Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			return nil, admin, err
		}
		if err := writeFiles(l, map[string][]byte{kwokCertFile: crt, kwokKeyFile: key}); err != nil {
			return nil, admin, err
		}
	}
	admin, err = clientKubeconfig(ca, l.name, l.server(), adminUser)
	return ca, admin, err
}

// writeFrontProxyPKI creates the host's front-proxy CA, a CA of its own (a certificate of the host's
// client CA must not be able to assert other users, and one of the front-proxy CA must not be a
// user), and the gateway's client certificate from it for GatewayFrontProxyUser.
func writeFrontProxyPKI(l clusterLayout) (*certs.CA, error) {
	ca, err := certs.NewCA(l.name + "-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	caKey, err := ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	crt, key, err := ca.Issue(certs.Request{CommonName: GatewayFrontProxyUser, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return nil, err
	}
	return ca, writeFiles(l, map[string][]byte{
		frontProxyCACert: ca.CertPEM(), frontProxyCAKey: caKey, frontProxyClientCert: crt, frontProxyClientKey: key,
	})
}

// clientKubeconfig issues a system:masters client certificate for user and returns a kubeconfig
// carrying it.
func clientKubeconfig(ca *certs.CA, name, server, user string) (certs.Kubeconfig, error) {
	crt, key, err := ca.Issue(certs.Request{
		CommonName:   user,
		Organization: []string{"system:masters"},
		Usages:       []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return certs.Kubeconfig{}, err
	}
	return certs.Kubeconfig{Name: name, Server: server, CAPEM: ca.CertPEM(), CertPEM: crt, KeyPEM: key}, nil
}

// newKeyPEM returns a fresh ECDSA P-256 private key in PEM form (the service-account signing key).
func newKeyPEM() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate service-account key: %w", err)
	}
	return keyutil.MarshalPrivateKeyToPEM(key)
}

// writeFiles writes files into the cluster's directory, readable by the owner only.
func writeFiles(l clusterLayout, files map[string][]byte) error {
	for name, data := range files {
		if err := os.WriteFile(l.path(name), data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", l.path(name), err)
		}
	}
	return nil
}
