package install

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/keyutil"

	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/deploy"
)

// The Secrets EnsurePKI keeps in deploy.Namespace of the underlying cluster: the ones deploy/base
// mounts, and the CA keys, which no pod mounts.
const (
	HostCASecret                      = "fleetgate-host-ca"            // the host's CA (client CA, signs its serving certificate)
	FrontProxyCASecret                = "fleetgate-front-proxy-ca"     // the host's --requestheader-client-ca-file
	GatewayCASecret                   = certs.CASecretName             // the gateway CA, seeded into the host by the gateway pod
	ServiceAccountSecret              = "fleetgate-host-sa"            // the host's service-account signing key
	APIServerTLSSecret                = "fleetgate-apiserver-tls"      // the host apiserver's serving certificate
	FrontProxyClientSecret            = "fleetgate-front-proxy-client" // the gateway's front-proxy client certificate
	GatewayKubeconfigSecret           = "fleetgate-gateway-kubeconfig" // the gateway's credential for the host
	ControllerManagerKubeconfigSecret = "fleetgate-controller-manager-kubeconfig"
)

// Identities in the host (as localenv's, localenv/pki.go).
const (
	// FrontProxyUser is the common name of the gateway's front-proxy certificate and the host's only
	// --requestheader-allowed-names.
	FrontProxyUser = "fleetgate-front-proxy"
	// GatewayHostUser is the gateway's own identity in the host, in system:masters.
	GatewayHostUser = "system:fleetgate:gateway"
	// ControllerManagerUser is kube-controller-manager's; the host's bootstrap RBAC binds it.
	ControllerManagerUser = "system:kube-controller-manager"
	// AdminUser is the common name of the administrator's gateway certificate (system:masters).
	AdminUser = "fleetgate-admin"
)

// KubeconfigKey is the key of the kubeconfig Secrets.
const KubeconfigKey = "kubeconfig"

// HostServer is the host apiserver's address inside the cluster (its Service).
const HostServer = "https://" + deploy.APIServerService + "." + deploy.Namespace + ".svc:443"

// hostServiceIP is the host's own kubernetes Service (first address of the apiserver's
// --service-cluster-ip-range in deploy/base).
const hostServiceIP = "10.96.0.1"

// SecretNames are every Secret EnsurePKI keeps, in the order it creates them.
var SecretNames = []string{HostCASecret, FrontProxyCASecret, GatewayCASecret, ServiceAccountSecret,
	APIServerTLSSecret, FrontProxyClientSecret, GatewayKubeconfigSecret, ControllerManagerKubeconfigSecret}

// PKI is what EnsurePKI found or made.
type PKI struct {
	HostCA, FrontProxyCA, GatewayCA *certs.CA
}

// EnsurePKI creates in the underlying cluster's deploy.Namespace (which must exist) every Secret of
// SecretNames that is missing, and prints one line per Secret. It never overwrites one: the CAs and
// the service-account key stay as they are, so installing again rotates nothing; a certificate or
// kubeconfig is issued again only when its Secret is gone or its CA was created in this call.
func EnsurePKI(ctx context.Context, kube kubernetes.Interface, out io.Writer) (*PKI, error) {
	s := pkiStore{kube: kube, out: out}
	var p PKI
	var freshHost, freshFrontProxy bool
	var err error
	if p.HostCA, freshHost, err = s.ca(ctx, HostCASecret, "fleetgate-host-ca"); err != nil {
		return nil, err
	}
	if p.FrontProxyCA, freshFrontProxy, err = s.ca(ctx, FrontProxyCASecret, "fleetgate-front-proxy-ca"); err != nil {
		return nil, err
	}
	if p.GatewayCA, _, err = s.ca(ctx, GatewayCASecret, certs.CACommonName); err != nil {
		return nil, err
	}
	if err := s.ensure(ctx, ServiceAccountSecret, false, func() (*corev1.Secret, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		pemKey, err := keyutil.MarshalPrivateKeyToPEM(key)
		return &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"sa.key": pemKey}}, err
	}); err != nil {
		return nil, err
	}
	if err := s.ensure(ctx, APIServerTLSSecret, freshHost, func() (*corev1.Secret, error) {
		return tlsSecret(p.HostCA, certs.Request{
			CommonName: "kube-apiserver",
			DNSNames: []string{deploy.APIServerService, deploy.APIServerService + "." + deploy.Namespace,
				deploy.APIServerService + "." + deploy.Namespace + ".svc",
				deploy.APIServerService + "." + deploy.Namespace + ".svc.cluster.local",
				"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
			IPs:    []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(hostServiceIP)},
			Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
	}); err != nil {
		return nil, err
	}
	if err := s.ensure(ctx, FrontProxyClientSecret, freshFrontProxy, func() (*corev1.Secret, error) {
		return tlsSecret(p.FrontProxyCA, certs.Request{CommonName: FrontProxyUser, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	}); err != nil {
		return nil, err
	}
	for _, k := range []struct {
		secret, user string
		groups       []string
	}{
		{GatewayKubeconfigSecret, GatewayHostUser, []string{"system:masters"}},
		{ControllerManagerKubeconfigSecret, ControllerManagerUser, nil},
	} {
		if err := s.ensure(ctx, k.secret, freshHost, func() (*corev1.Secret, error) {
			return kubeconfigSecret(p.HostCA, HostServer, k.user, k.groups)
		}); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

// Kubeconfig is a kubeconfig for user (in groups) at server, with a client certificate of ca.
func Kubeconfig(ca *certs.CA, name, server, user string, groups []string) (certs.Kubeconfig, error) {
	crt, key, err := ca.Issue(certs.Request{CommonName: user, Organization: groups, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return certs.Kubeconfig{}, err
	}
	return certs.Kubeconfig{Name: name, Server: server, CAPEM: ca.CertPEM(), CertPEM: crt, KeyPEM: key}, nil
}

func kubeconfigSecret(ca *certs.CA, server, user string, groups []string) (*corev1.Secret, error) {
	kc, err := Kubeconfig(ca, "host", server, user, groups)
	if err != nil {
		return nil, err
	}
	data, err := clientcmd.Write(*kc.Build())
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{KubeconfigKey: data}}, nil
}

func tlsSecret(ca *certs.CA, r certs.Request) (*corev1.Secret, error) {
	crt, key, err := ca.Issue(r)
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{
		corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key, "ca.crt": ca.CertPEM()}}, nil
}

type pkiStore struct {
	kube kubernetes.Interface
	out  io.Writer
}

// ca returns the CA in Secret name, creating it when missing (fresh: created now).
func (s pkiStore) ca(ctx context.Context, name, commonName string) (ca *certs.CA, fresh bool, err error) {
	sec, err := s.kube.CoreV1().Secrets(deploy.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		if ca, err = certs.ParseCA(sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey]); err != nil {
			return nil, false, fmt.Errorf("secret %s/%s: %w (delete it to have a new CA made, and every certificate it signed with it)", deploy.Namespace, name, err)
		}
		fmt.Fprintf(s.out, "[certs] Using the existing CA in secret %s/%s\n", deploy.Namespace, name)
		return ca, false, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, false, fmt.Errorf("read secret %s/%s: %w", deploy.Namespace, name, err)
	}
	if ca, err = certs.NewCA(commonName); err != nil {
		return nil, false, err
	}
	key, err := ca.KeyPEM()
	if err != nil {
		return nil, false, err
	}
	sec = &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{corev1.TLSCertKey: ca.CertPEM(), corev1.TLSPrivateKeyKey: key}}
	created, err := s.create(ctx, name, sec, false)
	if err != nil {
		return nil, false, err
	}
	if !created { // another init won the race: use its CA
		return s.ca(ctx, name, commonName)
	}
	return ca, true, nil
}

// ensure creates Secret name with build's content when it is missing, or replaces it when replace
// (its CA is new).
func (s pkiStore) ensure(ctx context.Context, name string, replace bool, build func() (*corev1.Secret, error)) error {
	if !replace {
		_, err := s.kube.CoreV1().Secrets(deploy.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			fmt.Fprintf(s.out, "[certs] Using the existing secret %s/%s\n", deploy.Namespace, name)
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("read secret %s/%s: %w", deploy.Namespace, name, err)
		}
	}
	sec, err := build()
	if err != nil {
		return fmt.Errorf("secret %s/%s: %w", deploy.Namespace, name, err)
	}
	_, err = s.create(ctx, name, sec, replace)
	return err
}

// create creates (or, with replace, updates) Secret name; false when it exists and !replace.
func (s pkiStore) create(ctx context.Context, name string, sec *corev1.Secret, replace bool) (bool, error) {
	secrets := s.kube.CoreV1().Secrets(deploy.Namespace)
	sec.Name, sec.Namespace = name, deploy.Namespace
	sec.Labels = map[string]string{"app.kubernetes.io/part-of": "fleetgate", "app.kubernetes.io/managed-by": InitFieldManager}
	_, err := secrets.Create(ctx, sec, metav1.CreateOptions{FieldManager: InitFieldManager})
	switch {
	case err == nil:
		fmt.Fprintf(s.out, "[certs] Created secret %s/%s\n", deploy.Namespace, name)
		return true, nil
	case apierrors.IsAlreadyExists(err) && replace:
		if _, err := secrets.Update(ctx, sec, metav1.UpdateOptions{FieldManager: InitFieldManager}); err != nil {
			return false, fmt.Errorf("update secret %s/%s: %w", deploy.Namespace, name, err)
		}
		fmt.Fprintf(s.out, "[certs] Issued secret %s/%s again (its CA is new)\n", deploy.Namespace, name)
		return true, nil
	case apierrors.IsAlreadyExists(err):
		return false, nil
	default:
		return false, fmt.Errorf("create secret %s/%s: %w", deploy.Namespace, name, err)
	}
}
