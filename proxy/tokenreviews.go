package proxy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"
)

// ErrTooManyTokenReviews refuses a bearer token the gateway has not seen accepted that waited
// UnknownTokenWait for one of the MaxUnknownTokenReviews review slots. The front door answers it
// 429 with Retry-After.
var ErrTooManyTokenReviews = errors.New("too many unknown bearer tokens waiting for review; retry later")

const (
	// MaxUnknownTokenReviews is how many TokenReviews of tokens the gateway has not seen accepted
	// may be in flight at once. Random tokens never repeat, so no cache helps against a flood of
	// them: this bounds what such a flood costs the host.
	MaxUnknownTokenReviews = 8
	// UnknownTokenReviewQPS paces the reviews of tokens not seen accepted: half of the reviews
	// client's budget (200 QPS), so known tokens and SubjectAccessReviews never queue behind them.
	UnknownTokenReviewQPS = 100
	// UnknownTokenWait is how long a token not seen accepted waits for a review slot. Waiting,
	// rather than being refused at once, holds a flood of random tokens to the pace of the reviews
	// (a client that is refused at once asks again at once, as fast as the gateway can answer).
	UnknownTokenWait = 10 * time.Second
	// knownTokens is how many accepted tokens are remembered (by keyed hash) as known: their
	// reviews after the answer cache expired do not wait for a slot.
	knownTokens = 4096
	// refusedTokens is how many refused tokens are remembered (by keyed hash), each for the failure
	// TTL: a token sent again and again costs the host one review per TTL.
	refusedTokens = 4096
)

// reviewGate stands in front of the answers (k8s.io/apiserver's token cache, which caches
// acceptances, over the host's TokenReviews): it caches refusals in a bounded LRU, lets tokens the
// host has accepted before through at once, and has every other token wait (first come, first
// served) for one of a few slots, up to a time or until its request ends, or ErrTooManyTokenReviews,
// and lets those through at a pace. Errors are not cached.
type reviewGate struct {
	reviews    authenticator.Token
	unknown    chan struct{}
	wait       time.Duration
	pace       flowcontrol.RateLimiter
	known      *lru.Cache // key → struct{}
	refused    *lru.Cache // key → expiry (time.Time)
	refusedTTL time.Duration
	clock      clock.PassiveClock
	hashKey    []byte
}

var _ authenticator.Token = (*reviewGate)(nil)

func newReviewGate(reviews authenticator.Token, refusedTTL time.Duration, slots int, wait time.Duration, qps float32, clk clock.PassiveClock) *reviewGate {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return &reviewGate{
		reviews: reviews, unknown: make(chan struct{}, slots), wait: wait,
		pace:  flowcontrol.NewTokenBucketRateLimiter(qps, slots),
		known: lru.New(knownTokens), refused: lru.New(refusedTokens),
		refusedTTL: refusedTTL, clock: clk, hashKey: key,
	}
}

// AuthenticateToken implements authenticator.Token.
func (g *reviewGate) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	key := g.key(ctx, token)
	if exp, ok := g.refused.Get(key); ok {
		if g.clock.Now().Before(exp.(time.Time)) {
			return nil, false, nil
		}
		g.refused.Remove(key)
	}
	if _, known := g.known.Get(key); !known {
		wait := time.NewTimer(g.wait)
		select {
		case g.unknown <- struct{}{}:
			wait.Stop()
			defer func() { <-g.unknown }()
		case <-wait.C:
			return nil, false, ErrTooManyTokenReviews
		case <-ctx.Done():
			wait.Stop()
			return nil, false, ctx.Err()
		}
		if err := g.pace.Wait(ctx); err != nil {
			return nil, false, fmt.Errorf("review of an unknown token: %w", err)
		}
	}
	resp, ok, err := g.reviews.AuthenticateToken(ctx, token)
	switch {
	case err != nil:
	case ok:
		g.known.Add(key, struct{}{})
	default:
		g.known.Remove(key)
		if g.refusedTTL > 0 {
			g.refused.Add(key, g.clock.Now().Add(g.refusedTTL))
		}
	}
	return resp, ok, err
}

// key is an HMAC of the token and the audiences (as the token cache keys them), so no token is
// kept in memory and colliding keys cannot be precomputed.
func (g *reviewGate) key(ctx context.Context, token string) string {
	h := hmac.New(sha256.New, g.hashKey)
	writeField := func(s string) {
		_ = binary.Write(h, binary.BigEndian, uint32(len(s)))
		_, _ = h.Write([]byte(s))
	}
	writeField(token)
	auds, _ := authenticator.AudiencesFrom(ctx)
	_ = binary.Write(h, binary.BigEndian, uint32(len(auds)))
	for _, a := range auds {
		writeField(a)
	}
	return string(h.Sum(nil))
}

// authnThrottle notes, for the failure handler, that authentication failed because too many unknown
// tokens were being reviewed (ErrTooManyTokenReviews), not because the credentials were bad.
type authnThrottle struct{ throttled atomic.Bool }

type authnThrottleKey struct{}

// withAuthnThrottle gives the request a place for throttledAuthenticator to note a throttled review.
func withAuthnThrottle(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authnThrottleKey{}, &authnThrottle{})))
	})
}

// throttledAuthenticator notes ErrTooManyTokenReviews in the request's authnThrottle.
func throttledAuthenticator(a authenticator.Request) authenticator.Request {
	return authenticator.RequestFunc(func(r *http.Request) (*authenticator.Response, bool, error) {
		resp, ok, err := a.AuthenticateRequest(r)
		if errors.Is(err, ErrTooManyTokenReviews) {
			if t, found := r.Context().Value(authnThrottleKey{}).(*authnThrottle); found {
				t.throttled.Store(true)
			}
		}
		return resp, ok, err
	})
}

// authenticationFailed answers 429 with Retry-After when the review of an unknown token was
// throttled, else 401.
func authenticationFailed(w http.ResponseWriter, r *http.Request) {
	if t, ok := r.Context().Value(authnThrottleKey{}).(*authnThrottle); ok && t.throttled.Load() {
		w.Header().Set("Retry-After", "1")
		writeStatus(w, r, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests, ErrTooManyTokenReviews.Error())
		return
	}
	unauthorized(w, r)
}
