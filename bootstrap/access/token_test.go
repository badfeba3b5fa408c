package access

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/certs"
)

// member stands for a member's apiserver at the transport: it records the bearer token of every
// request and answers 401 to tokens it does not accept (nil: it accepts all).
type member struct {
	mu       sync.Mutex
	accepted map[string]bool
	seen     []string
}

func (m *member) RoundTrip(req *http.Request) (*http.Response, error) {
	tok := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = append(m.seen, tok)
	code := http.StatusOK
	if m.accepted != nil && !m.accepted[tok] {
		code = http.StatusUnauthorized
	}
	return &http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: req}, nil
}

func (m *member) accept(tokens ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accepted = map[string]bool{}
	for _, t := range tokens {
		m.accepted[t] = true
	}
}

// send makes one request with cfg's credentials (as client-go and apitransport wrap a transport)
// and returns the token the member saw and its answer.
func (m *member) send(t *testing.T, cfg *rest.Config) (string, int) {
	t.Helper()
	rt, err := rest.HTTPWrappersForConfig(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, cfg.Host+"/version", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[len(m.seen)-1], resp.StatusCode
}

func setToken(t *testing.T, kube kubernetes.Interface, name, token string) {
	t.Helper()
	s, err := kube.CoreV1().Secrets(certs.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Data[clusterv1alpha1.SecretTokenKey] = []byte(token)
	if _, err := kube.CoreV1().Secrets(certs.Namespace).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestClientsPickUpRenewedToken: a client built from a Config keeps working when the token in the
// cluster's Secret is renewed: it sends the new token once the Host has read the Secret again (any
// Config call does, as every cluster-status probe makes one), once its copy is older than
// TokenReload, after the member refused the old one (401), and after Reload — not the token it
// was built with until that expires.
func TestClientsPickUpRenewedToken(t *testing.T) {
	kube := fake.NewClientset()
	for _, name := range []string{"member1", "member1-impersonator"} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: certs.Namespace, Name: name, Labels: map[string]string{ClusterLabel: "member1"}},
			Data: map[string][]byte{clusterv1alpha1.SecretTokenKey: []byte(name + "-t1")}}
		if _, err := kube.CoreV1().Secrets(certs.Namespace).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c := &clusterv1alpha1.Cluster{Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Push, APIEndpoint: "https://member1.example",
		SecretRef:             &clusterv1alpha1.LocalSecretReference{Namespace: certs.Namespace, Name: "member1"},
		ImpersonatorSecretRef: &clusterv1alpha1.LocalSecretReference{Namespace: certs.Namespace, Name: "member1-impersonator"}}}
	c.Name = "member1"
	h := &Host{Clusters: clusters{"member1": c}, Secrets: kube}
	for name, configFor := range map[string]func(context.Context, string) (*rest.Config, error){
		"member1": h.Config, "member1-impersonator": h.ImpersonatorConfig,
	} {
		t.Run(name, func(t *testing.T) {
			m := &member{}
			old, err := configFor(context.Background(), "member1")
			if err != nil {
				t.Fatal(err)
			}
			if tok, _ := m.send(t, old); tok != name+"-t1" {
				t.Fatalf("first request sent %q, want %q", tok, name+"-t1")
			}

			setToken(t, kube, name, name+"-t2")
			if _, err := configFor(context.Background(), "member1"); err != nil {
				t.Fatal(err)
			}
			if tok, _ := m.send(t, old); tok != name+"-t2" {
				t.Errorf("after the Secret was renewed and read again: the old client sent %q, want %q", tok, name+"-t2")
			}

			// Renewed again, not read since: the member refuses t2, and the next request has t3.
			setToken(t, kube, name, name+"-t3")
			m.accept(name + "-t3")
			if tok, code := m.send(t, old); code != http.StatusUnauthorized || tok != name+"-t2" {
				t.Fatalf("request before the Secret was read again: %q, %d; want the copy it had (t2), refused", tok, code)
			}
			if tok, code := m.send(t, old); tok != name+"-t3" || code != http.StatusOK {
				t.Errorf("after a 401: sent %q (%d), want %q", tok, code, name+"-t3")
			}

			// Renewed again, and the renewer says so (Reload): the next request has t4.
			setToken(t, kube, name, name+"-t4")
			h.Reload("member1")
			if tok, _ := m.send(t, old); tok != name+"-t4" {
				t.Errorf("after Reload: sent %q, want %q", tok, name+"-t4")
			}

			// Renewed again: read when the copy is older than TokenReload.
			m.accept(name+"-t4", name+"-t5")
			setToken(t, kube, name, name+"-t5")
			if tok, _ := m.send(t, old); tok != name+"-t4" {
				t.Errorf("a copy younger than TokenReload was read again: sent %q", tok)
			}
			h.TokenReload = time.Nanosecond
			defer func() { h.TokenReload = 0 }()
			if tok, _ := m.send(t, old); tok != name+"-t5" {
				t.Errorf("a copy older than TokenReload: sent %q, want %q", tok, name+"-t5")
			}
		})
	}
}
