package webhook

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// writes lists the create and update actions of c since index from.
func writes(c *fake.Clientset, from int) []string {
	var out []string
	for _, a := range c.Actions()[from:] {
		if v := a.GetVerb(); v == "create" || v == "update" {
			out = append(out, v+" "+a.GetResource().Resource)
		}
	}
	return out
}

// Register creates both configurations, writes nothing when they are current (a gateway restart),
// and updates both when what they say changes.
func TestRegisterWritesOnlyWhatChanged(t *testing.T) {
	c := fake.NewClientset()
	if err := Register(t.Context(), c, "https://127.0.0.1:7443", []byte("ca-1")); err != nil {
		t.Fatal(err)
	}
	if got := writes(c, 0); len(got) != 2 || got[0] != "create mutatingwebhookconfigurations" || got[1] != "create validatingwebhookconfigurations" {
		t.Fatalf("first Register wrote %v, want a create of each configuration", got)
	}
	n := len(c.Actions())
	if err := Register(t.Context(), c, "https://127.0.0.1:7443", []byte("ca-1")); err != nil {
		t.Fatal(err)
	}
	if got := writes(c, n); len(got) != 0 {
		t.Errorf("Register over current configurations wrote %v, want nothing", got)
	}
	n = len(c.Actions())
	if err := Register(t.Context(), c, "https://127.0.0.1:7443", []byte("ca-2")); err != nil {
		t.Fatal(err)
	}
	if got := writes(c, n); len(got) != 2 || got[0] != "update mutatingwebhookconfigurations" || got[1] != "update validatingwebhookconfigurations" {
		t.Errorf("Register with a new CA bundle wrote %v, want an update of each configuration", got)
	}
	v, err := c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(t.Context(), ConfigurationName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range v.Webhooks {
		if string(w.ClientConfig.CABundle) != "ca-2" {
			t.Errorf("webhook %s trusts %q, want the new bundle", w.Name, w.ClientConfig.CABundle)
		}
	}
}
