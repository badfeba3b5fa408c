package foundation

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// jwtClaims are the claims of a service-account token this test looks at (read, not verified).
type jwtClaims struct {
	Exp, Iat int64
	JTI      string `json:"jti"`
}

func claimsOf(t *testing.T, token string) jwtClaims {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token is not a JWT (%d parts)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	var c jwtClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Exp == 0 || c.JTI == "" {
		t.Fatalf("token claims %s: %v", payload, err)
	}
	return c
}

// credentialID is how kube-apiserver names a service-account token in the user's extras.
func credentialID(c jwtClaims) string { return "JTI=" + c.JTI }

// auditEvents reads the member's audit log: the completed requests of user, as far as written.
func auditEvents(t *testing.T, path, user string) []auditv1.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	var out []auditv1.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e auditv1.Event
		if json.Unmarshal(sc.Bytes(), &e) != nil { // a line being written
			continue
		}
		if e.User.Username == user && e.Stage == auditv1.StageResponseComplete {
			out = append(out, e)
		}
	}
	return out
}

func eventCredential(e auditv1.Event) string {
	if ids := e.User.Extra["authentication.kubernetes.io/credential-id"]; len(ids) == 1 {
		return ids[0]
	}
	return ""
}

const (
	propagatorUser   = "system:serviceaccount:kube-system:fleetgate-propagator"
	impersonatorUser = "system:serviceaccount:kube-system:fleetgate-impersonator"
)

// TestPushTokensAreRenewed: member2 joined with 10-minute tokens (the shortest TokenRequest
// allows) is renewed by the gateway long before they expire (TestMain runs it with
// --cluster-token-renewal-fraction=0.01: after 6s). Both host Secrets get tokens with a later
// expiry, keep their label and CA, and the new tokens authenticate at the member as fleetgate's
// service accounts; the member stays Ready throughout; and the gateway's clients leave the join
// tokens behind: propagation and the cluster proxy, both of which had used member2 before the
// renewal, reach it with renewed credentials (the member's audit log names each request's token).
func TestPushTokensAreRenewed(t *testing.T) {
	gw := framework.Env.GatewayKubeconfig
	m := framework.Env.Member("member2")
	ctx := t.Context()
	host, err := kubernetes.NewForConfig(framework.Env.Host.Config)
	if err != nil {
		t.Fatal(err)
	}
	memberAdmin, err := kubernetes.NewForConfig(m.Config)
	if err != nil {
		t.Fatal(err)
	}
	if r := framework.Fleetgate(t, "join", "member2", "--kubeconfig", gw, "--cluster-kubeconfig", m.Kubeconfig, "--token-expiration", "10m"); r.Err != nil {
		t.Fatalf("join member2: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	t.Cleanup(func() {
		if r := framework.Fleetgate(t, "unjoin", "member2", "--kubeconfig", gw, "--cluster-kubeconfig", m.Kubeconfig); r.Err != nil {
			t.Errorf("unjoin member2: %v\n%s", r.Err, r.Stderr)
		}
	})
	secrets := map[string]string{"member2": propagatorUser, "member2-impersonator": impersonatorUser}
	read := func(name string) *corev1.Secret {
		t.Helper()
		s, err := host.CoreV1().Secrets("fleetgate-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	joined := map[string]*corev1.Secret{}
	joinedClaims := map[string]jwtClaims{}
	for name := range secrets {
		joined[name] = read(name)
		joinedClaims[name] = claimsOf(t, string(joined[name].Data[clusterv1alpha1.SecretTokenKey]))
		if life := joinedClaims[name].Exp - joinedClaims[name].Iat; life != 600 {
			t.Fatalf("secret %s: token lifetime %ds, want 600 (--token-expiration 10m)", name, life)
		}
	}
	c := waitReady(t, "member2", "True", 30*time.Second)
	readySince := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ClusterConditionReady).LastTransitionTime

	// Propagation and the cluster proxy use member2 with the join tokens first.
	ns := "e2e-renewal"
	framework.Kubectl(t, gw, "create", "namespace", ns)
	t.Cleanup(func() { framework.KubectlResult(t, gw, "delete", "namespace", ns, "--wait=false") })
	framework.Apply(t, gw, fmt.Sprintf(`apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: to-member2, namespace: %s}
spec:
  resourceSelectors: [{apiVersion: v1, kind: ConfigMap}]
  placement: {clusterAffinity: {clusterNames: [member2]}}
`, ns))
	propagated := func(name string) {
		t.Helper()
		framework.Kubectl(t, gw, "-n", ns, "create", "configmap", name, "--from-literal=k=v")
		framework.Eventually(t, 30*time.Second, func() error {
			_, err := memberAdmin.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
			return err
		})
	}
	proxied := func(name string) {
		t.Helper()
		framework.Kubectl(t, gw, "get", "--raw", "/clusters/member2/api/v1/namespaces/"+ns+"/configmaps/"+name)
	}
	propagated("before")
	proxied("before")

	// Renewal: both Secrets get a token that expires later, and keep their label and CA.
	renewed := map[string]jwtClaims{}
	framework.Eventually(t, 60*time.Second, func() error {
		for name := range secrets {
			s := read(name)
			cl := claimsOf(t, string(s.Data[clusterv1alpha1.SecretTokenKey]))
			if cl.Exp <= joinedClaims[name].Exp {
				return fmt.Errorf("secret fleetgate-system/%s: token not replaced (it expires at %s, as at join)", name, time.Unix(cl.Exp, 0))
			}
			if s.Labels["fleetgate.io/cluster"] != "member2" || !bytes.Equal(s.Data[clusterv1alpha1.SecretCADataKey], joined[name].Data[clusterv1alpha1.SecretCADataKey]) {
				t.Fatalf("secret %s lost its label or CA at renewal: labels %v, keys %d", name, s.Labels, len(s.Data))
			}
			renewed[name] = cl
		}
		return nil
	})

	// The new tokens authenticate at the member as fleetgate's service accounts.
	for name, user := range secrets {
		tok := string(read(name).Data[clusterv1alpha1.SecretTokenKey])
		cfg := &rest.Config{Host: m.Server, BearerToken: tok, TLSClientConfig: rest.TLSClientConfig{CAData: m.Config.CAData}}
		kc, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := kc.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("renewed token of %s against member2: %v", name, err)
		}
		if r.Status.UserInfo.Username != user {
			t.Errorf("renewed token of %s is %s, want %s", name, r.Status.UserInfo.Username, user)
		}
	}

	// The gateway's clients leave the join tokens: what it sends member2 for a new copy and
	// through the cluster proxy carries a renewed token, though both reached member2 before.
	audit := m.AuditLogPath()
	framework.Eventually(t, 30*time.Second, func() error {
		// The probe after the renewal used the renewed propagator token: the gateway has it.
		for _, e := range auditEvents(t, audit, propagatorUser) {
			if eventCredential(e) == credentialID(renewed["member2"]) {
				return nil
			}
		}
		return errors.New("no request to member2 with the renewed propagator token yet")
	})
	propagated("after")
	proxied("after")
	// The propagator server-side applies the copy (a patch); the cluster proxy gets it as the caller.
	for _, check := range []struct{ user, verb, secret string }{{propagatorUser, "patch", "member2"}, {impersonatorUser, "get", "member2-impersonator"}} {
		// The audit log may be written just after the answer: wait for the request to be in it.
		var events []auditv1.Event
		framework.Eventually(t, 10*time.Second, func() error {
			events = nil
			for _, e := range auditEvents(t, audit, check.user) {
				if e.Verb == check.verb && e.ObjectRef != nil && e.ObjectRef.Resource == "configmaps" && e.ObjectRef.Namespace == ns && e.ObjectRef.Name == "after" {
					events = append(events, e)
				}
			}
			if len(events) == 0 {
				return fmt.Errorf("member2's audit log has no %s of %s/after by %s", check.verb, ns, check.user)
			}
			return nil
		})
		for _, e := range events {
			if eventCredential(e) == "" || eventCredential(e) == credentialID(joinedClaims[check.secret]) {
				t.Errorf("%s %s at member2 by %s used the join token (credential %q)", check.verb, e.RequestURI, check.user, eventCredential(e))
			}
		}
	}

	// The member stayed Ready throughout, and the renewal is on record for the Cluster.
	c = waitReady(t, "member2", "True", 10*time.Second)
	if since := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ClusterConditionReady).LastTransitionTime; !since.Equal(&readySince) {
		t.Errorf("member2's Ready condition changed during the renewal (last transition %s, was %s)", since, readySince)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		evs, err := host.CoreV1().Events("").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.kind=Cluster,involvedObject.name=member2,reason=CredentialsRenewed"})
		if err != nil {
			return err
		}
		if len(evs.Items) == 0 {
			return errors.New("no CredentialsRenewed event on Cluster member2")
		}
		return nil
	})
}
