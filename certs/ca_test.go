package certs

import (
	cryptorand "crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"net"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIssueAndVerify(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(Request{
		CommonName: "system:fleetgate:agent:member2", Organization: []string{"system:fleetgate:agents"},
		DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, Lifetime: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(keyPEM), "PRIVATE KEY") {
		t.Errorf("key PEM: %s", keyPEM)
	}
	c := parse(t, certPEM)
	if c.Subject.CommonName != "system:fleetgate:agent:member2" || c.Subject.Organization[0] != "system:fleetgate:agents" {
		t.Errorf("subject %v", c.Subject)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify as client: %v", err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Errorf("a client certificate verified for server auth")
	}
	if d := c.NotAfter.Sub(time.Now()); d > time.Hour || d < 50*time.Minute {
		t.Errorf("lifetime %s, want about 1h", d)
	}
	other, _ := NewCA("other")
	if _, err := c.Verify(x509.VerifyOptions{Roots: other.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Errorf("verified against another CA")
	}
}

func TestIssueRefusesIncompleteRequests(t *testing.T) {
	ca, _ := NewCA("test-ca")
	for name, r := range map[string]Request{
		"no common name": {Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		"no usage":       {CommonName: "x"},
	} {
		if _, _, err := ca.Issue(r); err == nil {
			t.Errorf("%s: issued", name)
		}
	}
}

func TestCARoundTripAndPin(t *testing.T) {
	ca, _ := NewCA("test-ca")
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCA(ca.CertPEM(), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Cert.Equal(ca.Cert) {
		t.Error("certificate changed in the round trip")
	}
	sum := sha256.Sum256(ca.Cert.RawSubjectPublicKeyInfo)
	if got, want := PinHash(ca.Cert), "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Errorf("pin %s, want %s", got, want)
	}
	if _, err := ParseCA([]byte("junk"), keyPEM); err == nil {
		t.Error("parsed a junk certificate")
	}
	leaf, leafKey, _ := ca.Issue(Request{CommonName: "leaf", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if _, err := ParseCA(leaf, leafKey); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("a leaf certificate was accepted as CA: %v", err)
	}
}

// TestSignCSRTakesOnlyThePublicKey: the identity comes from the request, never from the CSR.
func TestSignCSRTakesOnlyThePublicKey(t *testing.T) {
	ca, _ := NewCA("test-ca")
	key, _ := newKey()
	csrDER, err := x509.CreateCertificateRequest(cryptorand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:masters-wannabe"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignCSR(csrDER, Request{CommonName: "system:fleetgate:agent:a", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Fatal(err)
	}
	c := parse(t, certPEM)
	if c.Subject.CommonName != "system:fleetgate:agent:a" {
		t.Errorf("CN %q", c.Subject.CommonName)
	}
	if !key.PublicKey.Equal(c.PublicKey) {
		t.Error("certificate is not for the CSR's key")
	}
	csrDER[len(csrDER)-1] ^= 0xff
	if _, err := ca.SignCSR(csrDER, Request{CommonName: "x", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("signed a CSR with a broken signature")
	}
}

func TestKubeconfigWrite(t *testing.T) {
	p := t.TempDir() + "/k.kubeconfig"
	if err := (Kubeconfig{Name: "gw", Server: "https://127.0.0.1:1", CAPEM: []byte("ca"), Token: "tok"}).Write(p); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "gw" || cfg.Clusters["gw"].Server != "https://127.0.0.1:1" || cfg.AuthInfos["gw"].Token != "tok" {
		t.Errorf("kubeconfig %+v", cfg)
	}
}
