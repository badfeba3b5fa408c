package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"

	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/deploy"
	"github.com/fleetgate/fleetgate/deploy/install"
	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/localenv/envtest"
)

// runCommand runs the fleetgate command tree in-process with args and returns what it printed.
func runCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := NewRootCommand("fleetgate")
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestInitFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"init", "--dry-run", "--timeout", "0s"}, "--timeout 0s: must be positive"},
		{[]string{"init", "--dry-run", "--gateway-address", "gw.example.com"}, `--gateway-address "gw.example.com": want host:port`},
		{[]string{"init", "--dry-run", "--gateway-address", "gw.example.com:http"}, "is not a port number"},
		{[]string{"init", "--dry-run", "--gateway-address", "under_score:443"}, "neither an IP nor a DNS name"},
		{[]string{"init", "--dry-run", "--image", ":v1"}, `--image ":v1": not an image reference`},
		{[]string{"init", "--gateway-kubeconfig", ""}, "--gateway-kubeconfig: must not be empty"},
		{[]string{"init", "seed-ca", "--ca-dir", t.TempDir()}, "--ca-dir: open"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := runCommand(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestInit installs into a real kube-apiserver (localenv's host stands in for the cluster; no
// kubelet runs, so no pod ever starts): --dry-run creates nothing; init creates every object and
// Secret, valid; a second init changes no CA; waiting ends in a clear timeout.
func TestInit(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real etcd and kube-apiserver in $FLEETGATE_BIN (`make tools`); skipped under -short")
	}
	env := envtest.ForTest(t, localenv.Options{})
	ctx := context.Background()
	kube, err := kubernetes.NewForConfig(env.Host.Config)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gatewayKubeconfig := filepath.Join(dir, "gateway.kubeconfig")

	t.Run("dry-run", func(t *testing.T) {
		out, err := runCommand(t, "init", "--dry-run", "--kubeconfig", env.Host.Kubeconfig, "--gateway-kubeconfig", gatewayKubeconfig)
		if err != nil {
			t.Fatalf("init --dry-run: %v\n%s", err, out)
		}
		for _, want := range []string{"kind: Namespace", "kind: StatefulSet", "name: " + deploy.EtcdStatefulSet,
			"kind: Deployment", "name: " + deploy.GatewayDeployment, "name: " + deploy.APIServerService,
			"kind: PodDisruptionBudget", "kind: NetworkPolicy", "kind: CustomResourceDefinition",
			"name: clusters.cluster.karmada.io", "secret/" + install.HostCASecret, "nothing was created"} {
			if !strings.Contains(out, want) {
				t.Errorf("init --dry-run did not print %q", want)
			}
		}
		if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "BEGIN CERTIFICATE") {
			t.Error("init --dry-run printed a key or certificate")
		}
		if _, err := kube.CoreV1().Namespaces().Get(ctx, deploy.Namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("after --dry-run, Get namespace %s: %v, want NotFound", deploy.Namespace, err)
		}
		if _, err := os.Stat(gatewayKubeconfig); !os.IsNotExist(err) {
			t.Errorf("after --dry-run, %s: %v, want it not written", gatewayKubeconfig, err)
		}
	})
	if t.Failed() {
		return
	}

	initArgs := []string{"init", "--kubeconfig", env.Host.Kubeconfig, "--wait=false", "--gateway-kubeconfig", gatewayKubeconfig,
		"--gateway-address", "fleetgate.example.com:443", "--image", "example.com/fleetgate:v1"}
	out, err := runCommand(t, initArgs...)
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	t.Logf("init:\n%s", out)
	secrets := map[string]*corev1.Secret{}
	t.Run("objects", func(t *testing.T) {
		for _, name := range install.SecretNames {
			s, err := kube.CoreV1().Secrets(deploy.Namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Errorf("secret %s: %v", name, err)
				continue
			}
			secrets[name] = s
		}
		st, err := kube.AppsV1().StatefulSets(deploy.Namespace).Get(ctx, deploy.EtcdStatefulSet, metav1.GetOptions{})
		if err != nil {
			t.Errorf("statefulset %s: %v", deploy.EtcdStatefulSet, err)
		} else if !hasManager(st.ManagedFields, install.InitFieldManager) {
			t.Errorf("statefulset %s not applied by %s", deploy.EtcdStatefulSet, install.InitFieldManager)
		}
		for _, name := range []string{deploy.APIServerService, deploy.ControllerManagerDeployment, deploy.GatewayDeployment} {
			if _, err := kube.AppsV1().Deployments(deploy.Namespace).Get(ctx, name, metav1.GetOptions{}); err != nil {
				t.Errorf("deployment %s: %v", name, err)
			}
		}
		gw, err := kube.AppsV1().Deployments(deploy.Namespace).Get(ctx, deploy.GatewayDeployment, metav1.GetOptions{})
		if err == nil {
			c := gw.Spec.Template.Spec.Containers[0]
			if c.Image != "example.com/fleetgate:v1" || !containsString(c.Args, "--tls-san=fleetgate.example.com") {
				t.Errorf("gateway image %s args %v: want --image and --tls-san of --gateway-address", c.Image, c.Args)
			}
		}
		for _, name := range []string{deploy.APIServerService, deploy.GatewayService, deploy.EtcdStatefulSet} {
			if _, err := kube.CoreV1().Services(deploy.Namespace).Get(ctx, name, metav1.GetOptions{}); err != nil {
				t.Errorf("service %s: %v", name, err)
			}
		}
		if _, err := kube.PolicyV1().PodDisruptionBudgets(deploy.Namespace).Get(ctx, deploy.GatewayDeployment, metav1.GetOptions{}); err != nil {
			t.Errorf("poddisruptionbudget: %v", err)
		}
		if _, err := kube.NetworkingV1().NetworkPolicies(deploy.Namespace).Get(ctx, deploy.EtcdStatefulSet, metav1.GetOptions{}); err != nil {
			t.Errorf("networkpolicy: %v", err)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("pki", func(t *testing.T) {
		hostCA := parseCA(t, secrets[install.HostCASecret])
		frontProxyCA := parseCA(t, secrets[install.FrontProxyCASecret])
		gatewayCA := parseCA(t, secrets[install.GatewayCASecret])
		verify(t, secrets[install.APIServerTLSSecret], hostCA, x509.ExtKeyUsageServerAuth, deploy.APIServerService+"."+deploy.Namespace+".svc")
		leaf := verify(t, secrets[install.FrontProxyClientSecret], frontProxyCA, x509.ExtKeyUsageClientAuth, "")
		if leaf != nil && leaf.Subject.CommonName != localenv.GatewayFrontProxyUser {
			t.Errorf("front-proxy client CN %q, want %q (the host's --requestheader-allowed-names)", leaf.Subject.CommonName, localenv.GatewayFrontProxyUser)
		}
		if _, ok := secrets[install.ServiceAccountSecret].Data["sa.key"]; !ok {
			t.Error("service-account Secret has no sa.key")
		}
		for name, user := range map[string]string{install.GatewayKubeconfigSecret: install.GatewayHostUser, install.ControllerManagerKubeconfigSecret: install.ControllerManagerUser} {
			cfg, err := clientcmd.Load(secrets[name].Data[install.KubeconfigKey])
			if err != nil {
				t.Errorf("secret %s: %v", name, err)
				continue
			}
			ctx := cfg.Contexts[cfg.CurrentContext]
			if s := cfg.Clusters[ctx.Cluster].Server; s != install.HostServer {
				t.Errorf("secret %s: server %s, want %s", name, s, install.HostServer)
			}
			if cn := leafOf(t, cfg.AuthInfos[ctx.AuthInfo].ClientCertificateData, hostCA).Subject.CommonName; cn != user {
				t.Errorf("secret %s: user %q, want %q", name, cn, user)
			}
		}
		// The administrator's kubeconfig trusts the gateway CA and points at --gateway-address.
		cfg, err := clientcmd.LoadFromFile(gatewayKubeconfig)
		if err != nil {
			t.Fatalf("gateway kubeconfig: %v", err)
		}
		c := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
		if c.Server != "https://fleetgate.example.com:443" || !bytes.Equal(c.CertificateAuthorityData, gatewayCA.CertPEM()) {
			t.Errorf("gateway kubeconfig server %s, CA from fleetgate-ca: %v", c.Server, bytes.Equal(c.CertificateAuthorityData, gatewayCA.CertPEM()))
		}
		for _, want := range []string{"fleetgate join <cluster-name> --kubeconfig " + gatewayKubeconfig,
			"fleetgate register fleetgate.example.com:443 --token <token> --discovery-token-ca-cert-hash " + certs.PinHash(gatewayCA.Cert)} {
			if !strings.Contains(out, want) {
				t.Errorf("init did not print %q", want)
			}
		}
	})

	t.Run("again", func(t *testing.T) {
		out, err := runCommand(t, initArgs...)
		if err != nil {
			t.Fatalf("init again: %v\n%s", err, out)
		}
		if strings.Contains(out, "Created secret") {
			t.Errorf("init again created a Secret:\n%s", out)
		}
		for _, name := range install.SecretNames {
			s, err := kube.CoreV1().Secrets(deploy.Namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if s.ResourceVersion != secrets[name].ResourceVersion {
				t.Errorf("init again changed secret %s", name)
			}
		}
	})

	t.Run("seed-ca", func(t *testing.T) {
		// Here the host the gateway pod seeds is the same apiserver, so it holds this CA already.
		caDir := t.TempDir()
		for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
			if err := os.WriteFile(filepath.Join(caDir, k), secrets[install.GatewayCASecret].Data[k], 0o600); err != nil {
				t.Fatal(err)
			}
		}
		out, err := runCommand(t, "init", "seed-ca", "--kubeconfig", env.Host.Kubeconfig, "--ca-dir", caDir)
		if err != nil || !strings.Contains(out, "already holds this gateway CA") {
			t.Errorf("seed-ca with the same CA: %v\n%s", err, out)
		}
		other, _ := certs.NewCA("other")
		key, _ := other.KeyPEM()
		_ = os.WriteFile(filepath.Join(caDir, corev1.TLSCertKey), other.CertPEM(), 0o600)
		_ = os.WriteFile(filepath.Join(caDir, corev1.TLSPrivateKeyKey), key, 0o600)
		if _, err := runCommand(t, "init", "seed-ca", "--kubeconfig", env.Host.Kubeconfig, "--ca-dir", caDir); err == nil || !strings.Contains(err.Error(), "holds another gateway CA") {
			t.Errorf("seed-ca with another CA: %v, want it refused", err)
		}
	})

	t.Run("wait", func(t *testing.T) {
		out, err := runCommand(t, "init", "--kubeconfig", env.Host.Kubeconfig, "--timeout", "3s", "--gateway-kubeconfig", gatewayKubeconfig)
		if err == nil || !strings.Contains(err.Error(), "not ready after 3s (--timeout)") || !strings.Contains(err.Error(), "Deployment "+deploy.GatewayDeployment) {
			t.Fatalf("init --timeout 3s without a kubelet: %v, want a timeout naming the gateway", err)
		}
		for _, want := range []string{"[wait] StatefulSet fleetgate-system/" + deploy.EtcdStatefulSet + ": 0/1 ready",
			"[wait] Deployment fleetgate-system/" + deploy.GatewayDeployment + ": 0/2 available"} {
			if !strings.Contains(out, want) {
				t.Errorf("init did not print %q:\n%s", want, out)
			}
		}
	})
}

func hasManager(fields []metav1.ManagedFieldsEntry, manager string) bool {
	for _, f := range fields {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func parseCA(t *testing.T, s *corev1.Secret) *certs.CA {
	t.Helper()
	ca, err := certs.ParseCA(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Fatalf("secret %s: %v", s.Name, err)
	}
	return ca
}

// verify checks that the certificate of a kubernetes.io/tls Secret chains to ca for usage (and
// dnsName, when set) and matches its key.
func verify(t *testing.T, s *corev1.Secret, ca *certs.CA, usage x509.ExtKeyUsage, dnsName string) *x509.Certificate {
	t.Helper()
	leaf := leafOf(t, s.Data[corev1.TLSCertKey], ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: dnsName, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		t.Errorf("secret %s: %v", s.Name, err)
	}
	return leaf
}

func leafOf(t *testing.T, certPEM []byte, ca *certs.CA) *x509.Certificate {
	t.Helper()
	cs, err := certutil.ParseCertsPEM(certPEM)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	if err := cs[0].CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("certificate %q not signed by %q: %v", cs[0].Subject.CommonName, ca.Cert.Subject.CommonName, err)
	}
	return cs[0]
}
