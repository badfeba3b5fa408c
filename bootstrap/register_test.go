package bootstrap

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fleetgate/fleetgate/bootstrap/token"
	"github.com/fleetgate/fleetgate/certs"
)

// TestRegisterSendsNoTokenBeforeThePinMatches: against a server whose cluster-info is correctly
// signed for the token but whose CA is not the pinned one (an impostor who learnt the token's ID
// and secret could sign, but not fake the pinned CA), register stops after reading cluster-info: no
// request carries the token, no CSR is sent.
func TestRegisterSendsNoTokenBeforeThePinMatches(t *testing.T) {
	const id, secret = "abcdef", "0123456789abcdef"
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	impostor, err := certs.NewCA("impostor")
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path != token.ClusterInfoPath {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		cm, err := token.ClusterInfo(srv.URL, impostor.CertPEM(), []token.Token{{ID: id, Secret: secret}})
		if err != nil {
			t.Error(err)
		}
		_, _ = w.Write(token.Marshal(cm))
	})
	pinned, err := certs.NewCA("the real gateway")
	if err != nil {
		t.Fatal(err)
	}
	err = Register(context.Background(), RegisterOptions{
		Gateway: strings.TrimPrefix(srv.URL, "https://"), Token: id + "." + secret,
		CAHash: certs.PinHash(pinned.Cert), Cluster: "member2", Dir: t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "stopping before the token is sent") {
		t.Fatalf("Register = %v, want the pin refused", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "GET "+token.ClusterInfoPath+" auth=" {
		t.Errorf("the server saw %q, want only the unauthenticated cluster-info read", seen)
	}
	// With the impostor's pin the signature and pin pass, and only then the token goes out.
	seen = nil
	mu.Unlock()
	err = Register(context.Background(), RegisterOptions{
		Gateway: strings.TrimPrefix(srv.URL, "https://"), Token: id + "." + secret,
		CAHash: certs.PinHash(impostor.Cert), Cluster: "member2", Dir: t.TempDir(),
	})
	mu.Lock()
	if err == nil || len(seen) != 1 {
		// The impostor CA did not sign the test server's certificate: the CSR request fails its TLS
		// check before it reaches the server, so the token is not sent to a server the pin does
		// not vouch for either.
		t.Errorf("Register with the impostor's pin = %v; the server saw %q", err, seen)
	}
}

// TestCASignerSubjectFromClusterOnly: the certificate's subject is the cluster's agent name, never
// what the CSR asked for, and it is good for client authentication only.
func TestCASignerSubjectFromClusterOnly(t *testing.T) {
	ca, err := certs.NewCA("gateway")
	if err != nil {
		t.Fatal(err)
	}
	csrPEM := makeCSR(t, "system:masters-wannabe", "system:masters")
	block, _ := pem.Decode(csrPEM)
	certPEM, caPEM, err := CASigner{CA: ca}.Sign(context.Background(), "member2", block.Bytes)
	if err != nil || string(caPEM) != string(ca.CertPEM()) {
		t.Fatal(err)
	}
	cert, err := firstCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "system:fleetgate:agent:member2" || strings.Join(cert.Subject.Organization, ",") != AgentGroup {
		t.Errorf("subject %v, want the agent of member2", cert.Subject)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("extended key usages %v, want client auth only", cert.ExtKeyUsage)
	}
}

func makeCSR(t *testing.T, cn, org string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: []string{org}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
