package proxy

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	tokencache "k8s.io/apiserver/pkg/authentication/token/cache"
	"k8s.io/apiserver/plugin/pkg/authenticator/token/webhook"
	authenticationv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	"k8s.io/utils/clock"
)

// NewAuthenticator returns the gateway's request authenticator: a client certificate verified against
// clientCAs (user = CN, groups = O; a verified certificate is remembered for a minute), or else a bearer token checked with a TokenReview on the host,
// cached for tokenTTL (successes) and a tenth of it (failures).
func NewAuthenticator(clientCAs *x509.CertPool, tokenReviews authenticationv1client.AuthenticationV1Interface, tokenTTL time.Duration) (authenticator.Request, error) {
	if clientCAs == nil {
		return nil, fmt.Errorf("authenticator: no client CA")
	}
	certs := newCertCache(x509request.New(x509.VerifyOptions{
		Roots:     clientCAs,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, x509request.CommonNameUserConversion), time.Minute, 4096, clock.RealClock{})

	noop := func(context.Context, string) {}
	tokenReview, err := webhook.NewFromInterface(tokenReviews, nil, wait.Backoff{Steps: 1}, 10*time.Second,
		webhook.AuthenticatorMetrics{
			RecordRequestTotal:   noop,
			RecordRequestLatency: func(context.Context, string, float64) {},
		})
	if err != nil {
		return nil, fmt.Errorf("token review authenticator: %w", err)
	}
	tokens := bearertoken.New(tokencache.New(tokenReview, false, tokenTTL, tokenTTL/10))
	return union.New(certs, tokens), nil
}
