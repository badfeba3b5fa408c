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
// clientCAs (user = CN, groups = O; a verified certificate is remembered for a minute), or else a
// bearer token checked with a TokenReview on the host. Answers are cached by keyed hash of the token:
// acceptances for tokenTTL, refusals for a tenth of it (at most 4096 of them). A token the host has
// not accepted before waits for one of MaxUnknownTokenReviews review slots, at most
// UnknownTokenWait, then is refused with ErrTooManyTokenReviews (429), and such reviews are paced at
// UnknownTokenReviewQPS; tokens accepted before are reviewed at once.
// tokenReviews should have a client-side rate limiter of its own, shared with nothing but the
// SubjectAccessReviews, so that bad tokens never delay the gateway's controllers.
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
	// The gate is outside the cache, so that it sees the request's context (a waiting request whose
	// client went away gives up its place); refusals are cached by the gate (bounded), not by the
	// token cache (unbounded).
	gate := newReviewGate(tokencache.New(tokenReview, false, tokenTTL, 0), tokenTTL/10,
		MaxUnknownTokenReviews, UnknownTokenWait, UnknownTokenReviewQPS, clock.RealClock{})
	tokens := bearertoken.New(gate)
	return union.New(certs, tokens), nil
}
