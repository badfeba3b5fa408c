package token

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecrets "k8s.io/cluster-bootstrap/util/secrets"
)

const (
	// Namespace holds the token Secrets (where kube-apiserver's bootstrap authenticator looks).
	Namespace = metav1.NamespaceSystem
	// Group is the extra group of fleetgate's tokens: the register endpoint accepts only callers in
	// it.
	Group = "system:bootstrappers:fleetgate"
	// DefaultTTL is a token's lifetime unless asked otherwise (kubeadm's).
	DefaultTTL = 24 * time.Hour
)

// Token is one bootstrap token as the host holds it.
type Token struct {
	ID          string
	Secret      string // empty when listed: list shows IDs only
	Expires     time.Time
	Description string
	Usages      []string
	Groups      []string
}

// String is the token as register takes it: <id>.<secret>.
func (t Token) String() string { return bootstraputil.TokenFromIDAndSecret(t.ID, t.Secret) }

// CreateOptions are a new token's properties.
type CreateOptions struct {
	// TTL is its lifetime; 0: DefaultTTL; negative: never expires.
	TTL         time.Duration
	Description string
}

// Create generates a token and stores it in the host. It authenticates (register) and signs
// (cluster-info), with the extra group Group.
func Create(ctx context.Context, kube kubernetes.Interface, o CreateOptions, now time.Time) (Token, error) {
	s, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return Token{}, fmt.Errorf("generate a bootstrap token: %w", err)
	}
	id, secret, _ := strings.Cut(s, ".")
	t := Token{ID: id, Secret: secret, Description: o.Description, Groups: []string{Group},
		Usages: []string{"authentication", "signing"}}
	data := map[string]string{
		bootstrapapi.BootstrapTokenIDKey:               id,
		bootstrapapi.BootstrapTokenSecretKey:           secret,
		bootstrapapi.BootstrapTokenExtraGroupsKey:      Group,
		bootstrapapi.BootstrapTokenUsageAuthentication: "true",
		bootstrapapi.BootstrapTokenUsageSigningKey:     "true",
	}
	if o.Description != "" {
		data[bootstrapapi.BootstrapTokenDescriptionKey] = o.Description
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl > 0 {
		t.Expires = now.Add(ttl).UTC().Truncate(time.Second)
		data[bootstrapapi.BootstrapTokenExpirationKey] = t.Expires.Format(time.RFC3339)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(id), Namespace: Namespace},
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		StringData: data,
	}
	if _, err := kube.CoreV1().Secrets(Namespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		return Token{}, fmt.Errorf("store bootstrap token %s: %w", id, err)
	}
	return t, nil
}

// List returns the host's bootstrap tokens (without their secrets), by ID, expired ones included
// until the host's tokencleaner removes them.
func List(ctx context.Context, kube kubernetes.Interface) ([]Token, error) {
	l, err := kube.CoreV1().Secrets(Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("type", string(bootstrapapi.SecretTypeBootstrapToken)).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list bootstrap tokens: %w", err)
	}
	var out []Token
	for i := range l.Items {
		t, ok := fromSecret(&l.Items[i], false)
		if ok {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Token) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Signing returns the tokens (with their secrets) that may sign cluster-info now: not expired, with
// the signing usage.
func Signing(secrets []*corev1.Secret, now time.Time) []Token {
	var out []Token
	for _, s := range secrets {
		if s.Type != bootstrapapi.SecretTypeBootstrapToken || bootstrapsecrets.HasExpired(s, now) ||
			bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenUsageSigningKey) != "true" {
			continue
		}
		if t, ok := fromSecret(s, true); ok {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Token) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// fromSecret reads a token Secret; false when it is not a well-formed one.
func fromSecret(s *corev1.Secret, withSecret bool) (Token, bool) {
	id := bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenIDKey)
	if nameID, ok := bootstrapsecrets.ParseName(s.Name); !ok || nameID != id {
		return Token{}, false
	}
	t := Token{ID: id, Description: bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenDescriptionKey)}
	if withSecret {
		t.Secret = bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenSecretKey)
	}
	if e := bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenExpirationKey); e != "" {
		exp, err := time.Parse(time.RFC3339, e)
		if err != nil {
			return Token{}, false
		}
		t.Expires = exp
	}
	for k, v := range s.Data {
		if u, ok := strings.CutPrefix(k, bootstrapapi.BootstrapTokenUsagePrefix); ok && string(v) == "true" {
			t.Usages = append(t.Usages, u)
		}
	}
	slices.Sort(t.Usages)
	t.Groups, _ = bootstrapsecrets.GetGroups(s)
	return t, true
}

// Delete removes a token, named by its ID or the whole token.
func Delete(ctx context.Context, kube kubernetes.Interface, idOrToken string) error {
	id := idOrToken
	if bootstraputil.IsValidBootstrapToken(idOrToken) {
		id, _, _ = strings.Cut(idOrToken, ".")
	}
	if !bootstraputil.IsValidBootstrapTokenID(id) {
		return fmt.Errorf("%q is not a bootstrap token ID ([a-z0-9]{6}) nor a token ([a-z0-9]{6}.[a-z0-9]{16})", idOrToken)
	}
	err := kube.CoreV1().Secrets(Namespace).Delete(ctx, bootstraputil.BootstrapTokenSecretName(id), metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("bootstrap token %s not found", id)
	}
	if err != nil {
		return fmt.Errorf("delete bootstrap token %s: %w", id, err)
	}
	return nil
}

// ErrInvalid is returned by Parse for a string that is not a token.
var ErrInvalid = errors.New("not a bootstrap token: want [a-z0-9]{6}.[a-z0-9]{16}")

// Parse splits a token into ID and secret.
func Parse(s string) (id, secret string, err error) {
	if !bootstraputil.IsValidBootstrapToken(s) {
		return "", "", ErrInvalid
	}
	id, secret, _ = strings.Cut(s, ".")
	return id, secret, nil
}
