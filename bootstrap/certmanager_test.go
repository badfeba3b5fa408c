package bootstrap

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/localenv/envtest"
)

// agentCSR makes a CSR (DER) for a fresh key, as register does unless the template says otherwise.
func agentCSR(t *testing.T, tmpl *x509.CertificateRequest) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func agentSubject(cluster string) pkix.Name {
	return pkix.Name{CommonName: AgentCommonName(cluster), Organization: []string{AgentGroup}}
}

func TestCertManagerParseIssuer(t *testing.T) {
	for _, tc := range []struct {
		in, kind, name, err string
	}{
		{in: "ClusterIssuer/agents", kind: "ClusterIssuer", name: "agents"},
		{in: "Issuer/agents", kind: "Issuer", name: "agents"},
		{in: "clusterissuer/my.ca", kind: "ClusterIssuer", name: "my.ca"},
		{in: "issuer/a", kind: "Issuer", name: "a"},
		{in: "", err: "want <Issuer|ClusterIssuer>/<name>"},
		{in: "agents", err: "want <Issuer|ClusterIssuer>/<name>"},
		{in: "Certificate/agents", err: `kind "Certificate" is neither Issuer nor ClusterIssuer`},
		{in: "/agents", err: `kind "" is neither`},
		{in: "ClusterIssuer/", err: "the name is empty"},
		{in: "ClusterIssuer/a/b", err: `name "a/b" is not a valid object name`},
		{in: "Issuer/Agents", err: `name "Agents" is not a valid object name`},
	} {
		kind, name, err := ParseIssuer(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseIssuer(%q): %v", tc.in, err)
		case tc.err == "" && (kind != tc.kind || name != tc.name):
			t.Errorf("ParseIssuer(%q) = %q, %q; want %q, %q", tc.in, kind, name, tc.kind, tc.name)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseIssuer(%q) = %q, %q, %v; want an error containing %q", tc.in, kind, name, err, tc.err)
		}
	}
}

func TestCertManagerCheckAgentCSR(t *testing.T) {
	u, _ := url.Parse("spiffe://fleet/agent")
	uri := []*url.URL{u}
	for _, tc := range []struct {
		name string
		tmpl *x509.CertificateRequest
		err  string
	}{
		{name: "register's CSR", tmpl: &x509.CertificateRequest{Subject: agentSubject("member2")}},
		{name: "another cluster's agent", tmpl: &x509.CertificateRequest{Subject: agentSubject("member1")}, err: "may only ask for CN=system:fleetgate:agent:member2"},
		{name: "system:masters", tmpl: &x509.CertificateRequest{Subject: pkix.Name{CommonName: AgentCommonName("member2"), Organization: []string{"system:masters"}}}, err: "may only ask for"},
		{name: "an extra group", tmpl: &x509.CertificateRequest{Subject: pkix.Name{CommonName: AgentCommonName("member2"), Organization: []string{AgentGroup, "system:masters"}}}, err: "may only ask for"},
		{name: "an extra attribute", tmpl: &x509.CertificateRequest{Subject: pkix.Name{CommonName: AgentCommonName("member2"), Organization: []string{AgentGroup}, OrganizationalUnit: []string{"x"}}}, err: "may only ask for"},
		{name: "no subject", tmpl: &x509.CertificateRequest{}, err: "may only ask for"},
		{name: "DNS name", tmpl: &x509.CertificateRequest{Subject: agentSubject("member2"), DNSNames: []string{"gateway.example"}}, err: "subject alternative names"},
		{name: "IP", tmpl: &x509.CertificateRequest{Subject: agentSubject("member2"), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}, err: "subject alternative names"},
		{name: "URI", tmpl: &x509.CertificateRequest{Subject: agentSubject("member2"), URIs: uri}, err: "subject alternative names"},
		{name: "email", tmpl: &x509.CertificateRequest{Subject: agentSubject("member2"), EmailAddresses: []string{"a@example.com"}}, err: "subject alternative names"},
		{name: "an extension", tmpl: &x509.CertificateRequest{Subject: agentSubject("member2"), ExtraExtensions: []pkix.Extension{
			{Id: []int{2, 5, 29, 19}, Critical: true, Value: []byte{0x30, 0x03, 0x01, 0x01, 0xff}}, // basicConstraints CA:TRUE
		}}, err: "requests extensions [2.5.29.19]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, der := agentCSR(t, tc.tmpl)
			_, err := CheckAgentCSR("member2", der)
			if tc.err == "" && err != nil {
				t.Fatal(err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want one containing %q", err, tc.err)
			}
		})
	}
	if _, err := CheckAgentCSR("member2", []byte("junk")); err == nil || !strings.Contains(err.Error(), "does not parse") {
		t.Errorf("junk: err = %v", err)
	}
}

func TestCertManagerConditions(t *testing.T) {
	cr := func(conds ...map[string]any) *unstructured.Unstructured {
		list := make([]any, len(conds))
		for i, c := range conds {
			list[i] = c
		}
		return &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"conditions": list}}}
	}
	cond := func(typ, status, reason, msg string) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg}
	}
	for _, tc := range []struct {
		name string
		cr   *unstructured.Unstructured
		done bool
		err  string
	}{
		{name: "none", cr: cr()},
		{name: "approved", cr: cr(cond("Approved", "True", "cert-manager.io", "ok"))},
		{name: "pending", cr: cr(cond("Approved", "True", "", ""), cond("Ready", "False", "Pending", `Referenced "ClusterIssuer" not found`))},
		{name: "ready", cr: cr(cond("Approved", "True", "", ""), cond("Ready", "True", "Issued", "")), done: true},
		{name: "denied", cr: cr(cond("Denied", "True", "policy", "no agents here")), err: "cert-manager denied it (policy): no agents here"},
		{name: "ready denied", cr: cr(cond("Ready", "False", "Denied", "The CertificateRequest was denied by an approval controller")), err: "denied it"},
		{name: "failed", cr: cr(cond("Ready", "False", "Failed", "boom")), err: "cert-manager failed to issue it: boom"},
		{name: "invalid", cr: cr(cond("InvalidRequest", "True", "BadConfig", "bad")), err: "found it invalid (BadConfig): bad"},
	} {
		done, err := crDone(tc.cr)
		if done != tc.done || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: crDone = %v, %v; want %v, %q", tc.name, done, err, tc.done, tc.err)
		}
	}
	if got := describeConditions(cr()); !strings.Contains(got, "set no conditions") {
		t.Errorf("describeConditions(none) = %q", got)
	}
	if got := describeConditions(cr(cond("Approved", "True", "cert-manager.io", "ok"))); !strings.Contains(got, "Approved=True (cert-manager.io): ok") || !strings.Contains(got, "no Ready condition") {
		t.Errorf("describeConditions(approved) = %q", got)
	}
}

// TestCertManagerSigner has cert-manager's real controllers (localenv Options.CertManager) sign
// agent certificates for a CA ClusterIssuer.
func TestCertManagerSigner(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real binaries")
	}
	env := envtest.ForTest(t, localenv.Options{CertManager: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kube, err := kubernetes.NewForConfig(env.Host.Config)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(env.Host.Config)
	if err != nil {
		t.Fatal(err)
	}

	// The issuer: a CA ClusterIssuer, its key pair in cert-manager's cluster resource namespace.
	ca, err := env.CreateCAClusterIssuer(ctx, "agents")
	if err != nil {
		t.Fatal(err)
	}
	const ns = "fleetgate-system"
	crs := dyn.Resource(CertificateRequestsResource).Namespace(ns)
	countCRs := func(t *testing.T) int {
		t.Helper()
		l, err := crs.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}

	t.Run("namespace missing", func(t *testing.T) {
		s := &CertManagerSigner{Client: dyn, Namespace: ns, IssuerKind: ClusterIssuerKind, IssuerName: "agents", Timeout: 10 * time.Second}
		_, der := agentCSR(t, &x509.CertificateRequest{Subject: agentSubject("member2")})
		_, _, err := s.Sign(ctx, "member2", der)
		if err == nil || !strings.Contains(err.Error(), "namespace fleetgate-system does not exist") {
			t.Fatalf("err = %v, want one saying the namespace does not exist", err)
		}
		t.Logf("as expected: %v", err)
	})
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("issued", func(t *testing.T) {
		s := &CertManagerSigner{Client: dyn, Namespace: ns, IssuerKind: ClusterIssuerKind, IssuerName: "agents", Lifetime: 48 * time.Hour}
		key, der := agentCSR(t, &x509.CertificateRequest{Subject: agentSubject("member2")})
		began := time.Now()
		certPEM, caPEM, err := s.Sign(ctx, "member2", der)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("signed by cert-manager in %s", time.Since(began).Round(time.Millisecond))
		if !slices.Equal(caPEM, ca.CertPEM()) {
			t.Errorf("CA = %q, want the issuer's CA", caPEM)
		}
		cert, err := firstCert(certPEM)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("the certificate does not verify against the issuer's CA for client auth: %v", err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
			t.Errorf("the certificate is good for server auth too; want client auth only")
		}
		if cert.Subject.CommonName != "system:fleetgate:agent:member2" || !slices.Equal(cert.Subject.Organization, []string{"system:fleetgate:agents"}) {
			t.Errorf("subject = %v", cert.Subject)
		}
		if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
			t.Errorf("the certificate is not for the CSR's key")
		}
		if got := cert.NotAfter.Sub(cert.NotBefore); got < 47*time.Hour || got > 49*time.Hour {
			t.Errorf("lifetime = %s, want 48h (spec.duration)", got)
		}
		l, err := crs.List(ctx, metav1.ListOptions{LabelSelector: ClusterLabel + "=member2"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 1 {
			t.Fatalf("%d CertificateRequests labelled %s=member2, want 1", len(l.Items), ClusterLabel)
		}
		cr := &l.Items[0]
		if c := conditions(cr)["Ready"]; c == nil || c["status"] != "True" {
			t.Errorf("CertificateRequest %s is not Ready: %v", cr.GetName(), conditions(cr))
		}
		if !strings.HasPrefix(cr.GetName(), "agent-member2-") {
			t.Errorf("CertificateRequest name = %q, want agent-member2-<suffix>", cr.GetName())
		}
		ref, _, _ := unstructured.NestedStringMap(cr.Object, "spec", "issuerRef")
		if ref["kind"] != "ClusterIssuer" || ref["name"] != "agents" || ref["group"] != "cert-manager.io" {
			t.Errorf("issuerRef = %v", ref)
		}
		usages, _, _ := unstructured.NestedStringSlice(cr.Object, "spec", "usages")
		if !slices.Equal(usages, []string{"client auth", "digital signature", "key encipherment"}) {
			t.Errorf("usages = %v", usages)
		}
		t.Logf("CertificateRequest %s/%s Ready; issued %q by %q until %s", ns, cr.GetName(), cert.Subject, cert.Issuer, cert.NotAfter.Format(time.RFC3339))
	})

	t.Run("polls without watch", func(t *testing.T) {
		// A gateway allowed to create and get CertificateRequests but not to watch them polls.
		if _, err := kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "signer-nowatch"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"cert-manager.io"}, Resources: []string{"certificaterequests"}, Verbs: []string{"create", "get"}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "signer-nowatch"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "signer-nowatch"},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "fleetgate-test-nowatch"}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cfg := rest.CopyConfig(env.Host.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "fleetgate-test-nowatch"}
		limited, err := dynamic.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := limited.Resource(CertificateRequestsResource).Namespace(ns).Watch(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Fatalf("watch as fleetgate-test-nowatch: %v, want Forbidden", err)
		}
		s := &CertManagerSigner{Client: limited, Namespace: ns, IssuerKind: ClusterIssuerKind, IssuerName: "agents", Timeout: 30 * time.Second}
		_, der := agentCSR(t, &x509.CertificateRequest{Subject: agentSubject("member6")})
		certPEM, _, err := s.Sign(ctx, "member6", der)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := firstCert(certPEM)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("the certificate does not verify: %v", err)
		}
	})

	t.Run("another identity refused", func(t *testing.T) {
		s := &CertManagerSigner{Client: dyn, Namespace: ns, IssuerKind: ClusterIssuerKind, IssuerName: "agents"}
		before := countCRs(t)
		for name, tmpl := range map[string]*x509.CertificateRequest{
			"another cluster's agent": {Subject: agentSubject("member1")},
			"system:masters":          {Subject: pkix.Name{CommonName: "system:fleetgate:agent:member2", Organization: []string{"system:masters"}}},
			"admin":                   {Subject: pkix.Name{CommonName: "kubernetes-admin", Organization: []string{"system:masters"}}},
			"a DNS name":              {Subject: agentSubject("member2"), DNSNames: []string{"gateway.example"}},
		} {
			_, der := agentCSR(t, tmpl)
			_, _, err := s.Sign(ctx, "member2", der)
			if err == nil {
				t.Errorf("%s: signed", name)
				continue
			}
			t.Logf("%s: refused: %v", name, err)
		}
		if after := countCRs(t); after != before {
			t.Errorf("%d CertificateRequests after refusals, %d before: a refused CSR reached cert-manager", after, before)
		}
	})

	t.Run("issuer missing", func(t *testing.T) {
		s := &CertManagerSigner{Client: dyn, Namespace: ns, IssuerKind: ClusterIssuerKind, IssuerName: "nope", Timeout: 5 * time.Second}
		_, der := agentCSR(t, &x509.CertificateRequest{Subject: agentSubject("member3")})
		began := time.Now()
		_, _, err := s.Sign(ctx, "member3", der)
		took := time.Since(began)
		if err == nil {
			t.Fatal("signed with an issuer that does not exist")
		}
		t.Logf("after %s: %v", took.Round(time.Millisecond), err)
		for _, want := range []string{"cert-manager did not issue", "ClusterIssuer nope", "within 5s", "ClusterIssuer nope does not exist"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q", want)
			}
		}
		if took > 15*time.Second {
			t.Errorf("took %s with a 5s timeout", took)
		}
	})

	t.Run("issuer of the wrong kind", func(t *testing.T) {
		// An Issuer (namespaced) named like the ClusterIssuer does not exist in the namespace.
		s := &CertManagerSigner{Client: dyn, Namespace: ns, IssuerKind: IssuerKind, IssuerName: "agents", Timeout: 3 * time.Second}
		_, der := agentCSR(t, &x509.CertificateRequest{Subject: agentSubject("member4")})
		_, _, err := s.Sign(ctx, "member4", der)
		if err == nil || !strings.Contains(err.Error(), "Issuer fleetgate-system/agents does not exist") {
			t.Fatalf("err = %v, want one saying Issuer fleetgate-system/agents does not exist", err)
		}
	})

	t.Run("denied", func(t *testing.T) {
		// A request for an issuer that does not exist yet stays Pending; deny it then (no webhook runs
		// here to refuse Denied next to Approved): cert-manager marks it Ready=False, Denied.
		s := &CertManagerSigner{Client: dyn, Namespace: ns, IssuerKind: ClusterIssuerKind, IssuerName: "later", Timeout: 30 * time.Second}
		_, der := agentCSR(t, &x509.CertificateRequest{Subject: agentSubject("member5")})
		errc := make(chan error, 1)
		go func() { _, _, err := s.Sign(ctx, "member5", der); errc <- err }()
		var denied bool
		_ = wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			l, err := crs.List(ctx, metav1.ListOptions{LabelSelector: ClusterLabel + "=member5"})
			if err != nil || len(l.Items) == 0 {
				return false, nil
			}
			cr := &l.Items[0]
			if c := conditions(cr)["Ready"]; c == nil || c["reason"] != "Pending" {
				return false, nil
			}
			list, _, _ := unstructured.NestedSlice(cr.Object, "status", "conditions")
			list = append(list, map[string]any{
				"type": "Denied", "status": "True", "reason": "fleetgate-test", "message": "no agents today",
				"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
			})
			_ = unstructured.SetNestedSlice(cr.Object, list, "status", "conditions")
			_, err = crs.UpdateStatus(ctx, cr, metav1.UpdateOptions{})
			denied = err == nil
			return err == nil, nil // a conflict with cert-manager's own update: read again
		})
		if !denied {
			t.Fatal("could not deny the CertificateRequest")
		}
		err := <-errc
		if err == nil || !strings.Contains(err.Error(), "no agents today") || !strings.Contains(err.Error(), "denied") {
			t.Fatalf("err = %v, want cert-manager's denial", err)
		}
		t.Logf("as expected: %v", err)
	})
}
