package bootstrap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/bootstrap/access"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"
)

// cert-manager's API, used unstructured so that the module does not depend on cert-manager.
var (
	CertificateRequestsResource = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificaterequests"}
	issuersResource             = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"}
	clusterIssuersResource      = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
)

// ClusterLabel labels the CertificateRequests made for a cluster's agent with the cluster's name.
const ClusterLabel = access.ClusterLabel

// Issuer kinds of cert-manager.
const (
	IssuerKind        = "Issuer"
	ClusterIssuerKind = "ClusterIssuer"
)

// DefaultCertManagerTimeout bounds how long CertManagerSigner waits for cert-manager.
const DefaultCertManagerTimeout = 2 * time.Minute

// certManagerPollInterval is how often the signer reads the CertificateRequest when it may not
// watch it.
const certManagerPollInterval = 500 * time.Millisecond

// ParseIssuer parses --cert-manager-issuer's value, <Issuer|ClusterIssuer>/<name>. The kind is
// matched case-insensitively and returned as cert-manager spells it.
func ParseIssuer(s string) (kind, name string, err error) {
	k, n, ok := strings.Cut(s, "/")
	if !ok {
		return "", "", fmt.Errorf("cert-manager issuer %q: want <Issuer|ClusterIssuer>/<name>, e.g. ClusterIssuer/agents", s)
	}
	switch {
	case strings.EqualFold(k, IssuerKind):
		kind = IssuerKind
	case strings.EqualFold(k, ClusterIssuerKind):
		kind = ClusterIssuerKind
	default:
		return "", "", fmt.Errorf("cert-manager issuer %q: kind %q is neither Issuer nor ClusterIssuer (want <Issuer|ClusterIssuer>/<name>)", s, k)
	}
	if n == "" {
		return "", "", fmt.Errorf("cert-manager issuer %q: the name is empty (want <Issuer|ClusterIssuer>/<name>)", s)
	}
	if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
		return "", "", fmt.Errorf("cert-manager issuer %q: name %q is not a valid object name: %s", s, n, strings.Join(errs, "; "))
	}
	return kind, n, nil
}

// CertManagerSigner signs agent certificates through cert-manager: it creates a CertificateRequest
// (cert-manager.io/v1) in the host and waits until cert-manager has issued it. The
// CertificateRequest is kept afterwards (cert-manager keeps them too): it is the record of what was
// issued to whom, labelled ClusterLabel=<cluster>.
//
// cert-manager's issuers take the certificate's subject and extensions from the CSR, so unlike
// CASigner (which sets the subject itself) Sign refuses a CSR whose subject is not exactly the
// cluster's agent identity (CN AgentCommonName(cluster), O AgentGroup) or that requests any
// extension (subject alternative names, basic constraints, …).
type CertManagerSigner struct {
	// Client reaches the host.
	Client dynamic.Interface
	// Namespace is where CertificateRequests are created; it must exist. An Issuer (as opposed to a
	// ClusterIssuer) must be in this namespace too.
	Namespace string
	// IssuerKind is IssuerKind or ClusterIssuerKind; IssuerName names it.
	IssuerKind string
	IssuerName string
	// Lifetime is the certificate's requested lifetime (spec.duration); DefaultAgentLifetime when zero.
	Lifetime time.Duration
	// Timeout bounds the wait for cert-manager; DefaultCertManagerTimeout when zero.
	Timeout time.Duration
	// Keep is how many CertificateRequests of a cluster are kept as its record (the newest); older
	// ones are deleted after each issue, so that renewals do not pile them up. DefaultKeep when zero.
	Keep int

	mu      sync.Mutex
	cas     map[[sha256.Size]byte]*x509.Certificate // the issuer's CAs seen in issued requests
	trusted atomic.Pointer[x509.CertPool]
}

// DefaultKeep is how many CertificateRequests per cluster CertManagerSigner keeps.
const DefaultKeep = 3

// Trusted is the pool of the CAs that cert-manager named (status.ca) for the certificates it
// issued to agents through this signer: the tunnel trusts them for agent identities, besides the
// gateway's CA. Nil before any is known.
func (s *CertManagerSigner) Trusted() *x509.CertPool { return s.trusted.Load() }

// trust adds the CAs in caPEM to Trusted.
func (s *CertManagerSigner) trust(caPEM []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	added := false
	for rest := caPEM; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil || !c.IsCA {
			continue
		}
		if s.cas == nil {
			s.cas = map[[sha256.Size]byte]*x509.Certificate{}
		}
		k := sha256.Sum256(c.Raw)
		if _, ok := s.cas[k]; !ok {
			s.cas[k], added = c, true
		}
	}
	if !added {
		return
	}
	pool := x509.NewCertPool()
	for _, c := range s.cas {
		pool.AddCert(c)
	}
	s.trusted.Store(pool)
}

// LoadTrusted reads the issued CertificateRequests of agents (ClusterLabel, this signer's issuer,
// Ready) and trusts their CAs, so that after a gateway restart the agents' certificates are still
// accepted. The gateway calls it at start.
func (s *CertManagerSigner) LoadTrusted(ctx context.Context) error {
	list, err := s.Client.Resource(CertificateRequestsResource).Namespace(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: ClusterLabel})
	if err != nil {
		return fmt.Errorf("list the agents' CertificateRequests in %s: %w", s.Namespace, err)
	}
	for i := range list.Items {
		cr := &list.Items[i]
		kind, _, _ := unstructured.NestedString(cr.Object, "spec", "issuerRef", "kind")
		name, _, _ := unstructured.NestedString(cr.Object, "spec", "issuerRef", "name")
		if kind != s.IssuerKind || name != s.IssuerName {
			continue
		}
		if done, err := crDone(cr); !done || err != nil {
			continue
		}
		if ca, err := bytesField(cr, "status", "ca"); err == nil {
			s.trust(ca)
		}
	}
	return nil
}

// prune deletes cluster's CertificateRequests but the newest Keep.
func (s *CertManagerSigner) prune(ctx context.Context, crs dynamic.ResourceInterface, cluster string) error {
	keep := s.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	list, err := crs.List(ctx, metav1.ListOptions{LabelSelector: ClusterLabel + "=" + cluster})
	if err != nil {
		return err
	}
	items := list.Items
	slices.SortFunc(items, func(a, b unstructured.Unstructured) int {
		if c := b.GetCreationTimestamp().Compare(a.GetCreationTimestamp().Time); c != 0 {
			return c
		}
		return strings.Compare(b.GetName(), a.GetName())
	})
	var errs []error
	for _, cr := range items[min(keep, len(items)):] {
		if err := crs.Delete(ctx, cr.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var _ Signer = (*CertManagerSigner)(nil)

// issuer names the issuer in messages: ClusterIssuer "agents", Issuer "ns/agents".
func (s *CertManagerSigner) issuer() string {
	if s.IssuerKind == IssuerKind {
		return fmt.Sprintf("Issuer %s/%s", s.Namespace, s.IssuerName)
	}
	return fmt.Sprintf("%s %s", s.IssuerKind, s.IssuerName)
}

// Sign implements Signer.
func (s *CertManagerSigner) Sign(ctx context.Context, cluster string, csrDER []byte) ([]byte, []byte, error) {
	if s.IssuerKind != IssuerKind && s.IssuerKind != ClusterIssuerKind {
		return nil, nil, fmt.Errorf("cert-manager issuer kind %q: want %s or %s", s.IssuerKind, IssuerKind, ClusterIssuerKind)
	}
	if s.IssuerName == "" || s.Namespace == "" || s.Client == nil {
		return nil, nil, errors.New("cert-manager signer: the client, the namespace and the issuer name are required")
	}
	csr, err := CheckAgentCSR(cluster, csrDER)
	if err != nil {
		return nil, nil, err
	}
	lifetime := s.Lifetime
	if lifetime == 0 {
		lifetime = DefaultAgentLifetime
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = DefaultCertManagerTimeout
	}

	crs := s.Client.Resource(CertificateRequestsResource).Namespace(s.Namespace)
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})
	cr, err := crs.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": CertificateRequestsResource.GroupVersion().String(),
		"kind":       "CertificateRequest",
		"metadata": map[string]any{
			"generateName": "agent-" + cluster + "-",
			"labels":       map[string]any{ClusterLabel: cluster},
		},
		"spec": map[string]any{
			"request":   base64.StdEncoding.EncodeToString(csrPEM), // a []byte field: base64 in JSON
			"issuerRef": map[string]any{"group": CertificateRequestsResource.Group, "kind": s.IssuerKind, "name": s.IssuerName},
			"usages":    []any{"client auth", "digital signature", "key encipherment"},
			"duration":  lifetime.String(),
		},
	}}, metav1.CreateOptions{FieldManager: managedByValue})
	if err != nil {
		var st apierrors.APIStatus
		if apierrors.IsNotFound(err) && errors.As(err, &st) && st.Status().Details != nil && st.Status().Details.Kind == "namespaces" {
			return nil, nil, fmt.Errorf("create a cert-manager CertificateRequest: namespace %s does not exist (it must, for --cert-manager-issuer): %w", s.Namespace, err)
		}
		if apierrors.IsNotFound(err) {
			return nil, nil, fmt.Errorf("create a cert-manager CertificateRequest in namespace %s: %w (is cert-manager installed in the host?)", s.Namespace, err)
		}
		return nil, nil, fmt.Errorf("create a cert-manager CertificateRequest in namespace %s: %w", s.Namespace, err)
	}
	what := fmt.Sprintf("CertificateRequest %s/%s for %s", s.Namespace, cr.GetName(), s.issuer())

	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cr, err = s.wait(waitCtx, crs, cr)
	if err != nil {
		if ctx.Err() == nil && waitCtx.Err() != nil { // our timeout, not the caller's
			return nil, nil, fmt.Errorf("cert-manager did not issue %s within %s: %s%s", what, timeout, describeConditions(cr), s.issuerHint(ctx))
		}
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	certPEM, err := bytesField(cr, "status", "certificate")
	if err != nil {
		return nil, nil, fmt.Errorf("%s is Ready but its certificate: %w", what, err)
	}
	caPEM, _ := bytesField(cr, "status", "ca") // some issuers do not set it
	if err := checkIssued(csr, certPEM); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	s.trust(caPEM)
	if err := s.prune(ctx, crs, cluster); err != nil {
		klog.FromContext(ctx).Error(err, "Deleting old CertificateRequests failed", "cluster", cluster)
	}
	return certPEM, caPEM, nil
}

// CheckAgentCSR parses and checks an agent's CSR for cluster: its signature, a subject of exactly
// CN AgentCommonName(cluster) and O AgentGroup, and no requested extensions (no subject alternative
// names in particular). Issuers that copy the CSR's subject, as cert-manager's do, need this.
func CheckAgentCSR(cluster string, csrDER []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("the agent CSR does not parse: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the agent CSR's signature does not verify: %w", err)
	}
	wantCN := AgentCommonName(cluster)
	var cn, o int
	for _, a := range csr.Subject.Names {
		v, _ := a.Value.(string)
		switch {
		case a.Type.Equal(oidCommonName) && v == wantCN:
			cn++
		case a.Type.Equal(oidOrganization) && v == AgentGroup:
			o++
		default:
			cn = -1
		}
	}
	if cn != 1 || o != 1 || len(csr.Subject.Names) != 2 {
		return nil, fmt.Errorf("the agent CSR asks for subject %q; cluster %s's agent may only ask for CN=%s,O=%s", csr.Subject, cluster, wantCN, AgentGroup)
	}
	if n := len(csr.DNSNames) + len(csr.IPAddresses) + len(csr.URIs) + len(csr.EmailAddresses); n > 0 {
		return nil, fmt.Errorf("the agent CSR asks for %d subject alternative names (DNS %v, IP %v, URI %v, email %v); an agent certificate has none",
			n, csr.DNSNames, csr.IPAddresses, csr.URIs, csr.EmailAddresses)
	}
	if len(csr.Extensions) > 0 {
		ids := make([]string, len(csr.Extensions))
		for i, e := range csr.Extensions {
			ids[i] = e.Id.String()
		}
		return nil, fmt.Errorf("the agent CSR requests extensions %v; an agent CSR carries only its key and subject", ids)
	}
	return csr, nil
}

var (
	oidCommonName   = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidOrganization = asn1.ObjectIdentifier{2, 5, 4, 10}
)

// wait returns the CertificateRequest once it is Ready, or an error once cert-manager has given up
// on it. It watches the one object; when it may not watch, it polls. When ctx ends, the error is
// ctx's and the object the last one read.
func (s *CertManagerSigner) wait(ctx context.Context, crs dynamic.ResourceInterface, cr *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	name := cr.GetName()
	for {
		if done, err := crDone(cr); done || err != nil {
			return cr, err
		}
		w, err := crs.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: cr.GetResourceVersion(),
		})
		if err != nil {
			if ctx.Err() != nil {
				return cr, ctx.Err()
			}
			if apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err) {
				return s.poll(ctx, crs, cr)
			}
			// Anything else (a connection reset, a too old resourceVersion): read again, then watch again.
			if cr, err = s.get(ctx, crs, cr); err != nil {
				return cr, err
			}
			continue
		}
		cr, err = s.follow(ctx, w, cr)
		w.Stop()
		if err != nil || ctx.Err() != nil {
			if err == nil {
				err = ctx.Err()
			}
			return cr, err
		}
		// The watch ended: read the object again (nothing was missed) and watch from there.
		if cr, err = s.get(ctx, crs, cr); err != nil {
			return cr, err
		}
	}
}

// follow reads w's events until the CertificateRequest is done (nil error, done object returned),
// terminal (error), deleted (error) or the watch ends (nil error, last object).
func (s *CertManagerSigner) follow(ctx context.Context, w watch.Interface, cr *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	for {
		select {
		case <-ctx.Done():
			return cr, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return cr, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				u, ok := ev.Object.(*unstructured.Unstructured)
				if !ok || u.GetName() != cr.GetName() {
					continue
				}
				cr = u
				if done, err := crDone(cr); done || err != nil {
					return cr, err
				}
			case watch.Deleted:
				return cr, errors.New("it was deleted before cert-manager issued it")
			case watch.Error:
				return cr, nil // e.g. 410 Gone: read again
			}
		}
	}
}

// poll reads the CertificateRequest every certManagerPollInterval until it is done.
func (s *CertManagerSigner) poll(ctx context.Context, crs dynamic.ResourceInterface, cr *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	var done error
	err := wait.PollUntilContextCancel(ctx, certManagerPollInterval, false, func(ctx context.Context) (bool, error) {
		got, err := crs.Get(ctx, cr.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, errors.New("it was deleted before cert-manager issued it")
		}
		if err != nil {
			return false, nil // transient: try again until the timeout
		}
		cr = got
		ok, err := crDone(cr)
		done = err
		return ok || err != nil, nil
	})
	if err != nil {
		return cr, err
	}
	return cr, done
}

func (s *CertManagerSigner) get(ctx context.Context, crs dynamic.ResourceInterface, cr *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	var got *unstructured.Unstructured
	err := wait.PollUntilContextCancel(ctx, certManagerPollInterval, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = crs.Get(ctx, cr.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, errors.New("it was deleted before cert-manager issued it")
		}
		return err == nil, nil
	})
	if err != nil {
		return cr, err
	}
	return got, nil
}

// crDone tells whether cert-manager is done with a CertificateRequest: Ready=True (done, nil), or
// given up (an error with cert-manager's reason and message): Denied=True, InvalidRequest=True,
// Ready=False for reason Denied or Failed. Ready=False for reason Pending is not done: cert-manager
// tries again (for instance once a missing issuer exists).
func crDone(cr *unstructured.Unstructured) (bool, error) {
	conds := conditions(cr)
	if c := conds["Denied"]; c != nil && c["status"] == "True" {
		return false, fmt.Errorf("cert-manager denied it (%v): %v", c["reason"], c["message"])
	}
	if c := conds["InvalidRequest"]; c != nil && c["status"] == "True" {
		return false, fmt.Errorf("cert-manager found it invalid (%v): %v", c["reason"], c["message"])
	}
	c := conds["Ready"]
	switch {
	case c == nil:
		return false, nil
	case c["status"] == "True":
		return true, nil
	case c["status"] == "False" && c["reason"] == "Denied":
		return false, fmt.Errorf("cert-manager denied it: %v", c["message"])
	case c["status"] == "False" && c["reason"] == "Failed":
		return false, fmt.Errorf("cert-manager failed to issue it: %v", c["message"])
	}
	return false, nil
}

func conditions(cr *unstructured.Unstructured) map[string]map[string]any {
	out := map[string]map[string]any{}
	if cr == nil {
		return out
	}
	list, _, _ := unstructured.NestedSlice(cr.Object, "status", "conditions")
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			out[fmt.Sprint(m["type"])] = m
		}
	}
	return out
}

// describeConditions says what cert-manager last said of the CertificateRequest, for a timeout.
func describeConditions(cr *unstructured.Unstructured) string {
	conds := conditions(cr)
	if len(conds) == 0 {
		return "cert-manager set no conditions on it (is cert-manager running against this cluster, and does an approver approve its requests?)"
	}
	var parts []string
	for _, typ := range slices.Sorted(maps.Keys(conds)) {
		c := conds[typ]
		part := fmt.Sprintf("%s=%v", typ, c["status"])
		if r, _ := c["reason"].(string); r != "" {
			part += " (" + r + ")"
		}
		if m, _ := c["message"].(string); m != "" {
			part += ": " + m
		}
		parts = append(parts, part)
	}
	if _, ok := conds["Ready"]; !ok {
		parts = append(parts, "no Ready condition yet")
	}
	return "its conditions: " + strings.Join(parts, "; ")
}

// issuerHint says, after a timeout, whether the issuer exists and is Ready (best effort: the
// gateway may not be allowed to read issuers).
func (s *CertManagerSigner) issuerHint(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var r dynamic.ResourceInterface = s.Client.Resource(clusterIssuersResource)
	if s.IssuerKind == IssuerKind {
		r = s.Client.Resource(issuersResource).Namespace(s.Namespace)
	}
	iss, err := r.Get(ctx, s.IssuerName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("; %s does not exist", s.issuer())
	case err != nil:
		return ""
	}
	if c := conditions(iss)["Ready"]; c == nil || c["status"] != "True" {
		msg := "it has no Ready condition"
		if c != nil {
			msg = fmt.Sprintf("Ready=%v (%v): %v", c["status"], c["reason"], c["message"])
		}
		return fmt.Sprintf("; %s is not Ready: %s", s.issuer(), msg)
	}
	return ""
}

// checkIssued checks that what cert-manager issued is for the CSR's key and subject, for client
// authentication.
func checkIssued(csr *x509.CertificateRequest, certPEM []byte) error {
	cert, err := firstCert(certPEM)
	if err != nil {
		return fmt.Errorf("status.certificate: %w", err)
	}
	if !bytes.Equal(cert.RawSubjectPublicKeyInfo, csr.RawSubjectPublicKeyInfo) {
		return errors.New("the issued certificate is not for the CSR's key")
	}
	if cert.Subject.String() != csr.Subject.String() {
		return fmt.Errorf("the issued certificate's subject is %q, not the CSR's %q", cert.Subject, csr.Subject)
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return fmt.Errorf("the issued certificate is not for client authentication (extended key usages %v)", cert.ExtKeyUsage)
	}
	if cert.IsCA {
		return errors.New("the issued certificate is a CA")
	}
	return nil
}

// bytesField reads a []byte field (a base64 string in JSON) of an unstructured object.
func bytesField(obj *unstructured.Unstructured, path ...string) ([]byte, error) {
	s, ok, err := unstructured.NestedString(obj.Object, path...)
	if err != nil || !ok || s == "" {
		return nil, fmt.Errorf("%s is missing", strings.Join(path, "."))
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(path, "."), err)
	}
	return b, nil
}
