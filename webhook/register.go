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
	if cur, err := ar.MutatingWebhookConfigurations().Get(ctx, ConfigurationName, metav1.GetOptions{}); err == nil &&
		cur.Annotations[crds.AnnotationContentHash] == mutating.Annotations[crds.AnnotationContentHash] {
		mutating = nil
	}
	if cur, err := ar.ValidatingWebhookConfigurations().Get(ctx, ConfigurationName, metav1.GetOptions{}); err == nil &&
		cur.Annotations[crds.AnnotationContentHash] == validating.Annotations[crds.AnnotationContentHash] {
		validating = nil
	}
	if mutating != nil {
		if err := upsert(func() error {
			_, err := ar.MutatingWebhookConfigurations().Create(ctx, mutating, metav1.CreateOptions{})
			return err
		}, func() error {
			cur, err := ar.MutatingWebhookConfigurations().Get(ctx, ConfigurationName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			mutating.ResourceVersion = cur.ResourceVersion
			_, err = ar.MutatingWebhookConfigurations().Update(ctx, mutating, metav1.UpdateOptions{})
			return err
		}); err != nil {
			return fmt.Errorf("register mutating webhook %s: %w", ConfigurationName, err)
		}
	}
	if validating == nil {
		return nil
	}
	if err := upsert(func() error {
		_, err := ar.ValidatingWebhookConfigurations().Create(ctx, validating, metav1.CreateOptions{})
		return err
	}, func() error {
		cur, err := ar.ValidatingWebhookConfigurations().Get(ctx, ConfigurationName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		validating.ResourceVersion = cur.ResourceVersion
		_, err = ar.ValidatingWebhookConfigurations().Update(ctx, validating, metav1.UpdateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("register validating webhook %s: %w", ConfigurationName, err)
	}
	return nil
}

// upsert creates, or updates what exists.
func upsert(create, update func() error) error {
	if err := create(); !apierrors.IsAlreadyExists(err) {
		return err
	}
	return update()
}
