package access

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/transport"
	"k8s.io/klog/v2"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/certs"
)

// DefaultTokenReload is how long a member client uses the token it last read from its cluster's
// Secret before it reads the Secret again (Host.TokenReload).
const DefaultTokenReload = time.Minute

// tokenReadTimeout bounds the read of a credentials Secret from a member request's path.
const tokenReadTimeout = 5 * time.Second

// CredentialsSecret reads the credentials Secret ref of cluster from the host: only one in
// fleetgate-system labelled for that cluster (as join makes them), so that whoever may write a
// Cluster cannot make the gateway send another Secret of the host to its apiEndpoint.
func CredentialsSecret(ctx context.Context, secrets kubernetes.Interface, cluster string, ref *clusterv1alpha1.LocalSecretReference) (*corev1.Secret, error) {
	if ref == nil {
		return nil, fmt.Errorf("cluster %s: no secret reference", cluster)
	}
	if ref.Namespace != certs.Namespace {
		return nil, fmt.Errorf("cluster %s: credentials secret %s/%s: credentials are read only from namespace %s", cluster, ref.Namespace, ref.Name, certs.Namespace)
	}
	s, err := secrets.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: credentials secret %s/%s: %w", cluster, ref.Namespace, ref.Name, err)
	}
	switch owner, ok := s.Labels[ClusterLabel]; {
	case !ok:
		return nil, fmt.Errorf("cluster %s: credentials secret %s/%s is not labelled %s=%s", cluster, ref.Namespace, ref.Name, ClusterLabel, cluster)
	case owner != cluster:
		return nil, fmt.Errorf("cluster %s: credentials secret %s/%s is labelled for cluster %s", cluster, ref.Namespace, ref.Name, owner)
	}
	if len(s.Data[clusterv1alpha1.SecretTokenKey]) == 0 {
		return nil, fmt.Errorf("cluster %s: secret %s/%s has no %q", cluster, ref.Namespace, ref.Name, clusterv1alpha1.SecretTokenKey)
	}
	return s, nil
}

// secretToken is the bearer token of one credentials Secret, shared by every client configuration
// the Host hands out for that Secret, so that clients built before a renewal (cached clients,
// long-running informers) send the renewed token: each Config call that reads the Secret updates
// it, a client reads the Secret again when its copy is older than Host.TokenReload, and after the
// member refused a request (401) (client-go's ResettableTokenSourceWrapTransport).
type secretToken struct {
	host    *Host
	cluster string
	ref     clusterv1alpha1.LocalSecretReference

	mu    sync.Mutex
	token string
	read  time.Time // when token was read from the Secret; zero: read it again
}

var _ transport.ResettableTokenSource = (*secretToken)(nil)

// tokenKey names one cluster's credentials Secret.
type tokenKey struct{ cluster, namespace, name string }

// tokenFor returns the shared token of cluster's Secret ref, holding token, read just now.
func (h *Host) tokenFor(cluster string, ref clusterv1alpha1.LocalSecretReference, token string) *secretToken {
	key := tokenKey{cluster, ref.Namespace, ref.Name}
	h.tokensMu.Lock()
	if h.tokens == nil {
		h.tokens = map[tokenKey]*secretToken{}
	}
	t, ok := h.tokens[key]
	if !ok {
		t = &secretToken{host: h, cluster: cluster, ref: ref}
		h.tokens[key] = t
	}
	h.tokensMu.Unlock()
	t.set(token, time.Now())
	return t
}

// Reload makes every client of cluster read its token from the Secret again at its next request
// (bootstrap.TokenRenewer calls it once it stored renewed tokens).
func (h *Host) Reload(cluster string) {
	h.tokensMu.Lock()
	defer h.tokensMu.Unlock()
	for k, t := range h.tokens {
		if k.cluster == cluster {
			t.mu.Lock()
			t.read = time.Time{}
			t.mu.Unlock()
		}
	}
}

func (t *secretToken) set(token string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.token, t.read = token, at
}

// Token returns the token, read again from the Secret when the copy is too old or was reset. When
// the Secret cannot be read, the copy is used (and read again after TokenReload).
func (t *secretToken) Token() (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	reload := t.host.TokenReload
	if reload <= 0 {
		reload = DefaultTokenReload
	}
	if t.token != "" && now.Sub(t.read) < reload {
		return &oauth2.Token{AccessToken: t.token}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), tokenReadTimeout)
	defer cancel()
	s, err := CredentialsSecret(ctx, t.host.Secrets, t.cluster, &t.ref)
	if err != nil {
		if t.token == "" {
			return nil, err
		}
		klog.Background().Error(err, "Member credentials not read again; using the token read before", "cluster", t.cluster)
	} else {
		t.token = string(s.Data[clusterv1alpha1.SecretTokenKey])
	}
	t.read = now
	return &oauth2.Token{AccessToken: t.token}, nil
}

// ResetTokenOlderThan makes the next request read the Secret again if the copy was read before at
// (the member refused a request sent at at).
func (t *secretToken) ResetTokenOlderThan(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.read.Before(at) {
		t.read = time.Time{}
	}
}
