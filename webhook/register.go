package webhook

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/apis/crds"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// ConfigurationName names the Mutating- and ValidatingWebhookConfiguration in the host.
const ConfigurationName = "fleetgate-policies"

var policyResources = []string{"propagationpolicies", "clusterpropagationpolicies", "overridepolicies", "clusteroverridepolicies"}

// Register creates or updates both webhook configurations in the host, pointing at baseURL (the
// gateway, e.g. https://127.0.0.1:7443) and trusting caBundle.
func Register(ctx context.Context, host kubernetes.Interface, baseURL string, caBundle []byte) error {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(5)
	scope := admissionregistrationv1.AllScopes
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{policyv1alpha1.GroupName}, APIVersions: []string{"v1alpha1"}, Resources: policyResources, Scope: &scope,
		},
	}}
	cc := func(path string) admissionregistrationv1.WebhookClientConfig {
		u := baseURL + path
		return admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: caBundle}
	}
	meta := metav1.ObjectMeta{Name: ConfigurationName, Labels: map[string]string{"app.kubernetes.io/managed-by": "fleetgate"}}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: meta, Webhooks: []admissionregistrationv1.MutatingWebhook{{
		Name: "mutate.policy.fleetgate.io", ClientConfig: cc(MutatePath), Rules: rules, FailurePolicy: &fail,
		SideEffects: &none, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
	}}}
	clusterRules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{clusterv1alpha1.GroupVersion.Group}, APIVersions: []string{clusterv1alpha1.GroupVersion.Version}, Resources: []string{"clusters"}, Scope: &scope,
		},
	}}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: meta, Webhooks: []admissionregistrationv1.ValidatingWebhook{{
		Name: "validate.policy.fleetgate.io", ClientConfig: cc(ValidatePath), Rules: rules, FailurePolicy: &fail,
		SideEffects: &none, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
	}, {
		// Clusters name their credentials in fleetgate-system only (issue 10, item 5).
		Name: "validate.cluster.fleetgate.io", ClientConfig: cc(ValidatePath), Rules: clusterRules, FailurePolicy: &fail,
		SideEffects: &none, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
	}}}
	// The hash of what is written is recorded on each configuration: a restart over the same
	// configuration reads it and writes nothing.
	for _, c := range []struct {
		m   *metav1.ObjectMeta
		obj any
	}{{&mutating.ObjectMeta, mutating.Webhooks}, {&validating.ObjectMeta, validating.Webhooks}} {
		sum, err := crds.ContentHash(c.obj)
		if err != nil {
			return err
		}
		c.m.Annotations = map[string]string{crds.AnnotationContentHash: sum}
	}
	ar := host.AdmissionregistrationV1()
	if err := ensureConfiguration(ctx, ar.MutatingWebhookConfigurations(), mutating); err != nil {
		return fmt.Errorf("register mutating webhook %s: %w", ConfigurationName, err)
	}
	if err := ensureConfiguration(ctx, ar.ValidatingWebhookConfigurations(), validating); err != nil {
		return fmt.Errorf("register validating webhook %s: %w", ConfigurationName, err)
	}
	return nil
}

// configurations is what ensureConfiguration needs of a typed webhook configuration client.
type configurations[T metav1.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// ensureConfiguration creates want, or updates the configuration of its name unless that already
// carries want's content hash (then it writes nothing).
func ensureConfiguration[T metav1.Object](ctx context.Context, c configurations[T], want T) error {
	cur, err := c.Get(ctx, want.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err = c.Create(ctx, want, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
			return err
		}
		// Created meanwhile by another gateway: update it as if it had been there.
		if cur, err = c.Get(ctx, want.GetName(), metav1.GetOptions{}); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if cur.GetAnnotations()[crds.AnnotationContentHash] == want.GetAnnotations()[crds.AnnotationContentHash] {
		return nil
	}
	want.SetResourceVersion(cur.GetResourceVersion())
	_, err = c.Update(ctx, want, metav1.UpdateOptions{})
	return err
}
