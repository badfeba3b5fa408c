package token

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
)

func secret(id, secret string, expires time.Time, signing bool) *corev1.Secret {
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:     []byte(id),
		bootstrapapi.BootstrapTokenSecretKey: []byte(secret),
	}
	if !expires.IsZero() {
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(expires.Format(time.RFC3339))
	}
	if signing {
		data[bootstrapapi.BootstrapTokenUsageSigningKey] = []byte("true")
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id, Namespace: Namespace},
		Type: bootstrapapi.SecretTypeBootstrapToken, Data: data}
}

// TestClusterInfoSignedPerToken: cluster-info carries a JWS per signing token that verifies with
// that token only; expired and non-signing tokens sign nothing.
func TestClusterInfoSignedPerToken(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	signing := Signing([]*corev1.Secret{
		secret("aaaaaa", "0123456789abcdef", now.Add(time.Hour), true),
		secret("bbbbbb", "0123456789abcdef", now.Add(-time.Second), true), // expired
		secret("cccccc", "0123456789abcdef", time.Time{}, false),          // not for signing
		secret("dddddd", "fedcba9876543210", time.Time{}, true),           // never expires
	}, now)
	if len(signing) != 2 || signing[0].ID != "aaaaaa" || signing[1].ID != "dddddd" {
		t.Fatalf("Signing = %+v, want aaaaaa and dddddd", signing)
	}
	cm, err := ClusterInfo("https://127.0.0.1:7443", []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), signing)
	if err != nil {
		t.Fatal(err)
	}
	server, ca, err := VerifyClusterInfo(cm, "aaaaaa", "0123456789abcdef")
	if err != nil || server != "https://127.0.0.1:7443" || len(ca) == 0 {
		t.Errorf("VerifyClusterInfo with the right token = %q %q %v", server, ca, err)
	}
	for _, tc := range []struct{ id, secret string }{
		{"aaaaaa", "fedcba9876543210"}, // wrong secret
		{"bbbbbb", "0123456789abcdef"}, // expired: no signature
		{"eeeeee", "0123456789abcdef"}, // unknown
	} {
		if _, _, err := VerifyClusterInfo(cm, tc.id, tc.secret); err == nil {
			t.Errorf("VerifyClusterInfo(%s.%s) verified", tc.id, tc.secret)
		}
	}
	// A cluster-info whose kubeconfig was changed after signing does not verify.
	cm.Data[bootstrapapi.KubeConfigKey] += "\n# changed"
	if _, _, err := VerifyClusterInfo(cm, "aaaaaa", "0123456789abcdef"); err == nil {
		t.Error("a changed cluster-info verified")
	}
}

func TestParse(t *testing.T) {
	if id, s, err := Parse("abcdef.0123456789abcdef"); err != nil || id != "abcdef" || s != "0123456789abcdef" {
		t.Errorf("Parse = %q %q %v", id, s, err)
	}
	for _, bad := range []string{"", "abcdef", "ABCDEF.0123456789abcdef", "abcdef.0123456789abcde", "abcdef:0123456789abcdef"} {
		if _, _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted it", bad)
		}
	}
}
