package bootstrap

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/apis/crds"
	"github.com/fleetgate/fleetgate/bootstrap/access"
	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/localenv/envtest"
)

// jwt is a token with payload (not signed: readClaims does not verify).
func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestReadClaims(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name, token     string
		issued, expires time.Time
		wantErr         string
	}{
		{"service-account token", jwt(`{"sub":"system:serviceaccount:kube-system:fleetgate-propagator","iat":1800000000,"exp":1800000600,"jti":"x"}`), t0, t0.Add(10 * time.Minute), ""},
		{"fractional NumericDate", jwt(`{"iat":1800000000.5,"exp":1800003600}`), t0.Add(500 * time.Millisecond), t0.Add(time.Hour), ""},
		{"trailing newline", jwt(`{"iat":1800000000,"exp":1800000600}`) + "\n", t0, t0.Add(10 * time.Minute), ""},
		{"legacy token without exp", jwt(`{"iss":"kubernetes/serviceaccount","sub":"x"}`), time.Time{}, time.Time{}, "no exp claim"},
		{"no iat", jwt(`{"exp":1800000600}`), time.Time{}, time.Time{}, "no iat claim"},
		{"exp before iat", jwt(`{"iat":1800000600,"exp":1800000000}`), time.Time{}, time.Time{}, "not a lifetime"},
		{"negative", jwt(`{"iat":-5,"exp":1800000000}`), time.Time{}, time.Time{}, "not a lifetime"},
		{"beyond time", jwt(`{"iat":1,"exp":1e300}`), time.Time{}, time.Time{}, "not a lifetime"},
		{"static token", "0123456789abcdef", time.Time{}, time.Time{}, "not a JWT"},
		{"bad base64", "a.!!!.c", time.Time{}, time.Time{}, "payload"},
		{"payload not JSON", "a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c", time.Time{}, time.Time{}, "claims"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := readClaims([]byte(tc.token))
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("readClaims: %+v, %v; want an error containing %q", c, err, tc.wantErr)
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr == "" && (!c.issued.Equal(tc.issued) || !c.expires.Equal(tc.expires)):
				t.Errorf("issued %s expires %s, want %s %s", c.issued, c.expires, tc.issued, tc.expires)
			}
		})
	}
}

func TestRenewAt(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	c := tokenClaims{issued: t0, expires: t0.Add(10 * time.Minute)}
	for fraction, want := range map[float64]time.Time{0.8: t0.Add(8 * time.Minute), 0.01: t0.Add(6 * time.Second), 0.5: t0.Add(5 * time.Minute)} {
		if got := c.renewAt(fraction); !got.Equal(want) {
			t.Errorf("renewAt(%v) = %s, want %s", fraction, got, want)
		}
	}
	year := tokenClaims{issued: t0, expires: t0.Add(365 * 24 * time.Hour)}
	if got, want := year.renewAt(DefaultTokenRenewalFraction), t0.Add(292*24*time.Hour); !got.Equal(want) {
		t.Errorf("a one-year token renews at %s, want %s (73 days before it expires)", got, want)
	}
	for _, f := range []float64{0, -1, 1, 2} {
		if got := (&TokenRenewer{Fraction: f}).fraction(); got != DefaultTokenRenewalFraction {
			t.Errorf("fraction %v used as %v, want the default", f, got)
		}
	}
}

func FuzzReadClaims(f *testing.F) {
	f.Add([]byte(jwt(`{"iat":1800000000,"exp":1800000600}`)))
	f.Add([]byte(jwt(`{"iat":1e18,"exp":1e19}`)))
	f.Add([]byte("a.b.c"))
	f.Fuzz(func(t *testing.T, token []byte) {
		c, err := readClaims(token)
		if err != nil {
			return
		}
		if c.lifetime() <= 0 {
			t.Fatalf("%q: lifetime %s accepted", token, c.lifetime())
		}
		if at := c.renewAt(DefaultTokenRenewalFraction); at.Before(c.issued) || at.After(c.expires) {
			t.Fatalf("%q: renews at %s, outside %s–%s", token, at, c.issued, c.expires)
		}
	})
}

func TestTokenRenewerLeavesPullClustersAlone(t *testing.T) {
	c := &clusterv1alpha1.Cluster{Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Pull}}
	c.Name = "member1"
	// No clients at all: a Pull cluster's renewal must not read anything.
	renewed, next, err := (&TokenRenewer{}).Renew(context.Background(), c)
	if err != nil || len(renewed) != 0 || !next.IsZero() {
		t.Errorf("Renew of a Pull cluster: %v, %s, %v; want nothing", renewed, next, err)
	}
}

// reloads records the clusters whose clients were told to read their tokens again.
type reloads struct {
	*access.Host
	clusters []string
}

func (r *reloads) Reload(cluster string) {
	r.clusters = append(r.clusters, cluster)
	r.Host.Reload(cluster)
}

// TestTokenRenewer joins a real member with 10-minute tokens and drives the renewer with a clock
// it steps: nothing is renewed before 80% of the lifetime; then both tokens are replaced by
// 10-minute tokens of the same service accounts, which the member accepts, in Secrets that keep
// their label and CA, and the member clients are told; a token whose lifetime cannot be read is
// left as it is; and once the propagator token has expired, renewal fails saying so.
func TestTokenRenewer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real binaries")
	}
	env := envtest.ForTest(t, localenv.Options{Members: []localenv.MemberOptions{{Name: "member1"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := crds.Install(ctx, env.Host.Config); err != nil {
		t.Fatal(err)
	}
	m := env.Member("member1")
	if err := Join(ctx, JoinOptions{Name: "member1", Host: env.Host.Config, MemberKubeconfig: m.Kubeconfig, TokenExpiration: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(env.Host.Config)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(env.Host.Config)
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := client.Clusters(dyn).Get(ctx, "", "member1")
	if err != nil {
		t.Fatal(err)
	}
	secrets := kube.CoreV1().Secrets(certs.Namespace)
	read := func(name string) (*corev1.Secret, tokenClaims) {
		t.Helper()
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := readClaims(s.Data[clusterv1alpha1.SecretTokenKey])
		if err != nil {
			t.Fatalf("secret %s: %v", name, err)
		}
		return s, c
	}
	names := map[string]string{"member1": propagatorSA, "member1-impersonator": impersonatorSA}
	joined := map[string]*corev1.Secret{}
	var issued, allDue time.Time // the tokens may have been issued a second apart
	for name := range names {
		s, c := read(name)
		joined[name] = s
		issued = earliest(issued, c.issued)
		if at := c.renewAt(DefaultTokenRenewalFraction); at.After(allDue) {
			allDue = at
		}
	}
	clock := clocktesting.NewFakeClock(issued)
	acc := &reloads{Host: access.NewHost(client.Clusters(dyn), kube)}
	r := &TokenRenewer{Secrets: kube, Access: acc, Clock: clock}

	renewed, next, err := r.Renew(ctx, cluster)
	if err != nil || len(renewed) != 0 {
		t.Fatalf("at join: renewed %v, %v; want nothing", renewed, err)
	}
	if d := next.Sub(issued); d < 8*time.Minute-time.Second || d > 8*time.Minute+time.Second {
		t.Errorf("next renewal %s after issue, want 8m (80%% of 10m)", d)
	}
	clock.SetTime(next.Add(-time.Second))
	if renewed, _, err := r.Renew(ctx, cluster); err != nil || len(renewed) != 0 {
		t.Fatalf("a second before the renewal is due: renewed %v, %v", renewed, err)
	}

	clock.SetTime(allDue)
	renewed, _, err = r.Renew(ctx, cluster)
	if err != nil || len(renewed) != 2 {
		t.Fatalf("when due: renewed %v, %v; want both Secrets", renewed, err)
	}
	if len(acc.clusters) != 1 || acc.clusters[0] != "member1" {
		t.Errorf("member clients told to reload %v, want [member1]", acc.clusters)
	}
	for name, sa := range names {
		s, c := read(name)
		if bytes.Equal(s.Data[clusterv1alpha1.SecretTokenKey], joined[name].Data[clusterv1alpha1.SecretTokenKey]) {
			t.Fatalf("secret %s: token not replaced", name)
		}
		if c.lifetime() != 10*time.Minute || c.subject != serviceAccountUser(sa) {
			t.Errorf("secret %s: new token of %s for %s, want %s for 10m", name, c.subject, c.lifetime(), serviceAccountUser(sa))
		}
		if s.Labels[access.ClusterLabel] != "member1" || !bytes.Equal(s.Data[clusterv1alpha1.SecretCADataKey], joined[name].Data[clusterv1alpha1.SecretCADataKey]) {
			t.Errorf("secret %s lost its label or CA: %v", name, s.Labels)
		}
		// The member accepts it as the service account.
		cfg := &rest.Config{Host: m.Server, BearerToken: string(s.Data[clusterv1alpha1.SecretTokenKey]), TLSClientConfig: rest.TLSClientConfig{CAData: m.Config.CAData}}
		kc, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		review, err := kc.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil || review.Status.UserInfo.Username != serviceAccountUser(sa) {
			t.Errorf("secret %s: the member says %v, %v", name, review, err)
		}
	}

	// A token whose lifetime cannot be read (here: not a JWT) is not renewed; the other one is.
	imp, _ := read("member1-impersonator")
	imp.Data[clusterv1alpha1.SecretTokenKey] = []byte("a-static-token")
	if _, err := secrets.Update(ctx, imp, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, prop := read("member1")
	clock.SetTime(prop.renewAt(DefaultTokenRenewalFraction))
	if renewed, _, err := r.Renew(ctx, cluster); err != nil || len(renewed) != 1 || renewed[0] != certs.Namespace+"/member1" {
		t.Errorf("with a static impersonator token: renewed %v, %v; want only %s/member1", renewed, err, certs.Namespace)
	}
	if s, err := secrets.Get(ctx, "member1-impersonator", metav1.GetOptions{}); err != nil || string(s.Data[clusterv1alpha1.SecretTokenKey]) != "a-static-token" {
		t.Errorf("the static token was replaced: %v", err)
	}

	// Too late: the propagator token has expired, renewal cannot work and says what to do.
	_, prop = read("member1")
	clock.SetTime(prop.expires)
	if _, _, err := r.Renew(ctx, cluster); err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "join the cluster again") || !strings.Contains(err.Error(), "member1") {
		t.Errorf("renewal after the propagator token expired: %v", err)
	}
}
