package bootstrap

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/bootstrap/access"
)

// DefaultTokenRenewalFraction is the share of a member token's lifetime after which it is renewed.
const DefaultTokenRenewalFraction = 0.8

// minTokenLifetime is the shortest lifetime TokenRequest grants (expirationSeconds 600).
const minTokenLifetime = 10 * time.Minute

// TokenAccess is how a TokenRenewer reaches a member and tells the member clients that their
// tokens changed (bootstrap/access.Host).
type TokenAccess interface {
	access.Getter
	// Reload makes every client of the cluster read its token from the Secret again.
	Reload(cluster string)
}

// TokenRenewer renews the member tokens join stored for a Push cluster before they expire: once
// Fraction of a token's lifetime (its exp minus iat, read from the token without verifying it) has
// passed, it requests a token of the same lifetime for the same service account with the
// propagator's credential (cluster-admin in the member) and writes it into the Secret in place of
// the old one. It only renews tokens of join's service accounts (fleetgate-propagator for
// secretRef, fleetgate-impersonator for impersonatorSecretRef, in kube-system); any other token
// (one without exp, which does not expire, or not a JWT at all) is left as it is.
type TokenRenewer struct {
	// Secrets reads and updates the credentials Secrets in the host.
	Secrets kubernetes.Interface
	// Access reaches the member as the propagator.
	Access TokenAccess
	// Fraction of a token's lifetime after which it is renewed (default DefaultTokenRenewalFraction).
	Fraction float64
	// Clock tells the time (default: the real clock).
	Clock clock.PassiveClock
}

// memberToken is one of a cluster's tokens: its Secret, the service account it must be for, and its
// claims.
type memberToken struct {
	ref    *clusterv1alpha1.LocalSecretReference
	sa     string
	secret *corev1.Secret
	claims tokenClaims
}

// Renew renews c's tokens that are due. It returns the Secrets it renewed ("namespace/name"; none
// when nothing was due) and when the next renewal is due (zero: no token it can renew). Pull
// clusters have no tokens in the host: nothing to do.
func (r *TokenRenewer) Renew(ctx context.Context, c *clusterv1alpha1.Cluster) ([]string, time.Time, error) {
	if c.Spec.SyncMode != clusterv1alpha1.Push {
		return nil, time.Time{}, nil
	}
	now := r.now()
	tokens := []memberToken{{ref: c.Spec.ImpersonatorSecretRef, sa: impersonatorSA}, {ref: c.Spec.SecretRef, sa: propagatorSA}}
	var next time.Time
	var due []memberToken
	var propagator *memberToken
	for i := range tokens {
		t := &tokens[i]
		if t.ref == nil {
			continue
		}
		s, err := access.CredentialsSecret(ctx, r.Secrets, c.Name, t.ref)
		if err != nil {
			return nil, next, err
		}
		cl, err := readClaims(s.Data[clusterv1alpha1.SecretTokenKey])
		if err == nil && cl.subject != serviceAccountUser(t.sa) {
			err = fmt.Errorf("it is a token of %q, not of %s", cl.subject, serviceAccountUser(t.sa))
		}
		if err != nil {
			klog.FromContext(ctx).V(2).Info("Member token not renewed", "cluster", klog.KObj(c), "secret", klog.KObj(s), "reason", err.Error())
			continue
		}
		t.secret, t.claims = s, cl
		if t.sa == propagatorSA {
			propagator = t
		}
		if at := cl.renewAt(r.fraction()); now.Before(at) {
			next = earliest(next, at)
			continue
		}
		due = append(due, *t)
	}
	if len(due) == 0 {
		return nil, next, nil
	}
	if propagator != nil && !now.Before(propagator.claims.expires) {
		return nil, next, fmt.Errorf("cluster %s: the propagator token in secret %s/%s expired at %s, so its tokens can no longer be renewed: unjoin and join the cluster again",
			c.Name, propagator.secret.Namespace, propagator.secret.Name, propagator.claims.expires.UTC().Format(time.RFC3339))
	}
	cfg, err := r.Access.Config(ctx, c.Name)
	if err != nil {
		return nil, next, err
	}
	member, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, next, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	var renewed []string
	defer func() {
		if len(renewed) > 0 {
			r.Access.Reload(c.Name)
		}
	}()
	for _, t := range due {
		at, err := r.renew(ctx, member, c.Name, t)
		if err != nil {
			return renewed, next, err
		}
		renewed = append(renewed, t.secret.Namespace+"/"+t.secret.Name)
		next = earliest(next, at)
	}
	return renewed, next, nil
}

// renew requests a new token for t's service account, as long-lived as t's, stores it in t's
// Secret (which keeps its labels and its other keys) and returns when that one is due for renewal.
func (r *TokenRenewer) renew(ctx context.Context, member kubernetes.Interface, cluster string, t memberToken) (time.Time, error) {
	secs := int64(max(t.claims.lifetime(), minTokenLifetime) / time.Second)
	tr, err := member.CoreV1().ServiceAccounts(memberNamespace).CreateToken(ctx, t.sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		return time.Time{}, fmt.Errorf("cluster %s: request a new token for %s/%s: %w", cluster, memberNamespace, t.sa, err)
	}
	cl, err := readClaims([]byte(tr.Status.Token))
	if err != nil {
		return time.Time{}, fmt.Errorf("cluster %s: the new token of %s/%s: %w", cluster, memberNamespace, t.sa, err)
	}
	s := t.secret.DeepCopy()
	s.Data[clusterv1alpha1.SecretTokenKey] = []byte(tr.Status.Token)
	if _, err := r.Secrets.CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{FieldManager: managedByValue}); err != nil {
		return time.Time{}, fmt.Errorf("cluster %s: store the renewed token in secret %s/%s: %w", cluster, s.Namespace, s.Name, err)
	}
	return cl.renewAt(r.fraction()), nil
}

func (r *TokenRenewer) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

func (r *TokenRenewer) fraction() float64 {
	if r.Fraction <= 0 || r.Fraction >= 1 {
		return DefaultTokenRenewalFraction
	}
	return r.Fraction
}

func serviceAccountUser(name string) string {
	return "system:serviceaccount:" + memberNamespace + ":" + name
}

// earliest is the earlier of two times, the zero time meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// tokenClaims are what the renewer reads of a service-account token.
type tokenClaims struct {
	subject         string
	issued, expires time.Time
}

func (c tokenClaims) lifetime() time.Duration { return c.expires.Sub(c.issued) }

// renewAt is when fraction of the lifetime has passed.
func (c tokenClaims) renewAt(fraction float64) time.Time {
	return c.issued.Add(time.Duration(float64(c.lifetime()) * fraction))
}

// readClaims reads sub, iat and exp from a JWT's payload, without verifying its signature: the
// gateway only needs to know when its own credential ends, and the member decides whether it is
// valid.
func readClaims(token []byte) (tokenClaims, error) {
	parts := bytes.Split(bytes.TrimSpace(token), []byte("."))
	if len(parts) != 3 {
		return tokenClaims{}, errors.New("the token is not a JWT")
	}
	payload := make([]byte, base64.RawURLEncoding.DecodedLen(len(parts[1])))
	n, err := base64.RawURLEncoding.Decode(payload, parts[1])
	if err != nil {
		return tokenClaims{}, fmt.Errorf("the token's payload: %w", err)
	}
	var c struct {
		Sub string `json:"sub"`
		// NumericDates: seconds, possibly fractional.
		Iat *float64 `json:"iat"`
		Exp *float64 `json:"exp"`
	}
	if err := json.Unmarshal(payload[:n], &c); err != nil {
		return tokenClaims{}, fmt.Errorf("the token's claims: %w", err)
	}
	switch {
	case c.Exp == nil:
		return tokenClaims{}, errors.New("the token has no exp claim (it does not expire)")
	case c.Iat == nil:
		return tokenClaims{}, errors.New("the token has no iat claim: its lifetime is unknown")
	}
	issued, iok := numericDate(*c.Iat)
	expires, eok := numericDate(*c.Exp)
	if !iok || !eok || !expires.After(issued) {
		return tokenClaims{}, fmt.Errorf("the token's iat %v and exp %v are not a lifetime", *c.Iat, *c.Exp)
	}
	return tokenClaims{subject: c.Sub, issued: issued, expires: expires}, nil
}

// numericDate converts a JWT NumericDate; false when it is not a time after 1970 that time.Time
// and time.Duration can hold.
func numericDate(secs float64) (time.Time, bool) {
	if math.IsNaN(secs) || secs < 0 || secs > float64(math.MaxInt64/int64(time.Second)/2) {
		return time.Time{}, false
	}
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(frac*1e9)), true
}
