package localenv_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/localenv/envtest"
)

var certificateRequests = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificaterequests"}

// TestCertManager starts a host alone with Options.CertManager and has cert-manager's real controllers
// sign a CertificateRequest with a CA ClusterIssuer. Objects are unstructured (dynamic client), so the
// main module does not depend on cert-manager's API packages.
func TestCertManager(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real binaries")
	}
	env := envtest.ForTest(t, localenv.Options{CertManager: true})
	if env.CertManagerNamespace != localenv.CertManagerNamespace {
		t.Fatalf("CertManagerNamespace = %q, want %q", env.CertManagerNamespace, localenv.CertManagerNamespace)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dyn, err := dynamic.NewForConfig(env.Host.Config)
	if err != nil {
		t.Fatal(err)
	}

	// A CA ClusterIssuer, its key pair as a kubernetes.io/tls Secret in the cluster resource
	// namespace; CreateCAClusterIssuer waits until cert-manager reports it Ready.
	began := time.Now()
	ca, err := env.CreateCAClusterIssuer(ctx, "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ClusterIssuer Ready %s after its creation", time.Since(began).Round(time.Millisecond))

	// A CSR for a fresh ECDSA key.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	subject := pkix.Name{CommonName: "workload.example", Organization: []string{"fleetgate-test"}}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  subject,
		DNSNames: []string{"workload.example"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})

	began = time.Now()
	crs := dyn.Resource(certificateRequests).Namespace(metav1.NamespaceDefault)
	_, err = crs.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cert-manager.io/v1",
		"kind":       "CertificateRequest",
		"metadata":   map[string]any{"name": "workload"},
		"spec": map[string]any{
			"request":   base64.StdEncoding.EncodeToString(csrPEM), // a []byte field: base64 in JSON
			"issuerRef": map[string]any{"name": "test-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
			"usages":    []any{"digital signature", "key encipherment", "server auth"},
		},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cr := waitConditions(ctx, t, crs, "workload", "Approved", "Ready")
	t.Logf("CertificateRequest Approved and Ready %s after its creation", time.Since(began).Round(time.Millisecond))

	// status.certificate: the CSR's key and subject, signed by the CA.
	crtPEM, err := bytesField(cr, "status", "certificate")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(crtPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("status.certificate is not a PEM certificate: %q", crtPEM)
	}
	crt, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := crt.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("certificate not signed by the CA: %v", err)
	}
	if _, err := crt.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "workload.example",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("certificate does not verify against the CA: %v", err)
	}
	if crt.Subject.CommonName != subject.CommonName || !slices.Equal(crt.Subject.Organization, subject.Organization) {
		t.Errorf("subject = %v, want %v", crt.Subject, subject)
	}
	if pub, ok := crt.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		t.Errorf("certificate is not for the CSR's key")
	}
	if caPEM, err := bytesField(cr, "status", "ca"); err != nil || !slices.Equal(caPEM, ca.CertPEM()) {
		t.Errorf("status.ca = %q (%v), want the CA certificate", caPEM, err)
	}
	t.Logf("issued %q by %q, valid until %s", crt.Subject, crt.Issuer, crt.NotAfter.Format(time.RFC3339))
	for _, u := range env.Usage() {
		t.Logf("%-30s RSS %4d MiB", u.Name, u.RSS>>20)
	}
}

// waitConditions polls the object until its status.conditions have each of types with status True
// and returns it. It fails at once on a terminal condition: Denied=True, or Ready=False for reason
// Failed (cert-manager does not retry those).
func waitConditions(ctx context.Context, t *testing.T, r dynamic.ResourceInterface, what string, types ...string) *unstructured.Unstructured {
	t.Helper()
	var obj *unstructured.Unstructured
	last := "none yet"
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var err error
		if obj, err = r.Get(ctx, what, metav1.GetOptions{}); err != nil {
			last = err.Error()
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		last = fmt.Sprint(conds)
		status := map[string]map[string]any{}
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok {
				status[fmt.Sprint(m["type"])] = m
			}
		}
		if c := status["Denied"]; c != nil && c["status"] == "True" {
			return false, fmt.Errorf("denied: %v", c["message"])
		}
		if c := status["Ready"]; c != nil && c["status"] == "False" && c["reason"] == "Failed" {
			return false, fmt.Errorf("failed: %v", c["message"])
		}
		for _, typ := range types {
			if c := status[typ]; c == nil || c["status"] != "True" {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("%s: waiting for %v: %v (conditions: %s)", what, types, err, last)
	}
	return obj
}

// bytesField reads a []byte field (a base64 string in JSON) of an unstructured object.
func bytesField(obj *unstructured.Unstructured, fields ...string) ([]byte, error) {
	s, ok, err := unstructured.NestedString(obj.Object, fields...)
	if err != nil || !ok {
		return nil, fmt.Errorf("%v: missing (%v)", fields, err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", fields, err)
	}
	return b, nil
}
