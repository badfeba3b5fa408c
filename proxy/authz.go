package proxy

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/plugin/pkg/authorizer/webhook"
	webhookmetrics "k8s.io/apiserver/plugin/pkg/authorizer/webhook/metrics"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
)

// NewAuthorizer returns an authorizer that asks the host with SubjectAccessReviews. Allowed answers
// are cached for ttl, denials for a tenth of it; errors deny (fail closed).
func NewAuthorizer(sars authorizationv1client.AuthorizationV1Interface, ttl time.Duration) (authorizer.UnconditionalAuthorizer, error) {
	a, err := webhook.NewFromInterface(sars, ttl, ttl/10, wait.Backoff{Steps: 1}, authorizer.DecisionDeny,
		webhookmetrics.NoopAuthorizerMetrics{}, nil)
	if err != nil {
		return nil, fmt.Errorf("subject access review authorizer: %w", err)
	}
	return a, nil
}
