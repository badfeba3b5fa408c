package proxy

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeReviews accepts tokens "good-*", refuses others, fails "error-*", and holds "slow-*" until
// released; it counts reviews per token.
type fakeReviews struct {
	mu      sync.Mutex
	counts  map[string]int
	started chan string
	release chan struct{}
}

func newFakeReviews() *fakeReviews {
	return &fakeReviews{counts: map[string]int{}, started: make(chan string, 64), release: make(chan struct{})}
}

func (f *fakeReviews) AuthenticateToken(_ context.Context, token string) (*authenticator.Response, bool, error) {
	f.mu.Lock()
	f.counts[token]++
	f.mu.Unlock()
	switch {
	case strings.HasPrefix(token, "slow-"):
		f.started <- token
		<-f.release
	case strings.HasPrefix(token, "error-"):
		return nil, false, errors.New("host unreachable")
	case !strings.HasPrefix(token, "good-"):
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: token}}, true, nil
}

func (f *fakeReviews) count(token string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[token]
}

func TestReviewGate(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(time.Now())
	f := newFakeReviews()
	g := newReviewGate(f, time.Second, 2, 100*time.Millisecond, 1e6, clk)
	auth := func(token string) (bool, error) {
		_, ok, err := g.AuthenticateToken(ctx, token)
		return ok, err
	}

	t.Run("refusals are cached for their TTL", func(t *testing.T) {
		for range 3 {
			if ok, err := auth("bad"); ok || err != nil {
				t.Fatalf("bad: %v %v, want refused", ok, err)
			}
		}
		if n := f.count("bad"); n != 1 {
			t.Errorf("bad was reviewed %d times within its TTL, want 1", n)
		}
		clk.SetTime(clk.Now().Add(2 * time.Second))
		_, _ = auth("bad")
		if n := f.count("bad"); n != 2 {
			t.Errorf("bad was reviewed %d times after its TTL, want 2", n)
		}
	})
	t.Run("errors are not cached", func(t *testing.T) {
		_, _ = auth("error-1")
		_, _ = auth("error-1")
		if n := f.count("error-1"); n != 2 {
			t.Errorf("error-1 reviewed %d times, want 2", n)
		}
	})
	t.Run("a waiting token whose request ends gives up its place", func(t *testing.T) {
		g := newReviewGate(f, time.Second, 1, 10*time.Second, 1e6, clk)
		held := make(chan struct{})
		go func() { defer close(held); _, _, _ = g.AuthenticateToken(ctx, "slow-held") }()
		<-f.started
		cctx, cancel := context.WithCancel(ctx)
		gaveUp := make(chan error, 1)
		go func() { _, _, err := g.AuthenticateToken(cctx, "good-abandoned"); gaveUp <- err }()
		cancel()
		if err := <-gaveUp; !errors.Is(err, context.Canceled) {
			t.Errorf("abandoned wait: %v, want context.Canceled", err)
		}
		f.release <- struct{}{} // let slow-held finish
		<-held
		if n := f.count("good-abandoned"); n != 0 {
			t.Errorf("an abandoned token was reviewed %d times", n)
		}
	})
	t.Run("the refusal cache is bounded", func(t *testing.T) {
		for i := range refusedTokens + 10 {
			_, _ = auth(fmt.Sprintf("bad-%d", i))
		}
		if n := g.refused.Len(); n != refusedTokens {
			t.Errorf("%d refusals cached, want at most %d", n, refusedTokens)
		}
	})
	t.Run("unknown tokens beyond the slots wait, then are refused; known ones are reviewed", func(t *testing.T) {
		if ok, err := auth("good-known"); !ok || err != nil {
			t.Fatalf("good-known: %v %v", ok, err)
		}
		var wg sync.WaitGroup
		for _, tok := range []string{"slow-1", "slow-2"} {
			wg.Go(func() { _, _ = auth(tok) })
			<-f.started
		}
		start := time.Now()
		if _, err := auth("good-new"); !errors.Is(err, ErrTooManyTokenReviews) {
			t.Errorf("unknown token with every slot taken: %v, want ErrTooManyTokenReviews", err)
		}
		if waited := time.Since(start); waited < 100*time.Millisecond {
			t.Errorf("unknown token refused after %s, want it to wait 100ms for a slot", waited)
		}
		if f.count("good-new") != 0 {
			t.Errorf("a throttled token was reviewed")
		}
		if ok, err := auth("good-known"); !ok || err != nil {
			t.Errorf("known token with every slot taken: %v %v, want accepted", ok, err)
		}
		close(f.release)
		wg.Wait()
		if ok, err := auth("good-new"); !ok || err != nil {
			t.Errorf("unknown token once slots are free: %v %v, want accepted (not cached as refused)", ok, err)
		}
	})
}

func TestReviewGatePacesUnknownTokens(t *testing.T) {
	f := newFakeReviews()
	g := newReviewGate(f, 0, 2, time.Second, 20, clock.RealClock{})
	start := time.Now()
	for i := range 6 { // a burst of 2 (the slots), then 20 per second
		_, _, _ = g.AuthenticateToken(context.Background(), fmt.Sprintf("bad-%d", i))
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("6 unknown tokens reviewed in %s; at 20/s after a burst of 2 they take 200ms", took)
	}
	_, _, _ = g.AuthenticateToken(context.Background(), "good-known") // paced: it is not known yet
	start = time.Now()
	for range 6 {
		_, _, _ = g.AuthenticateToken(context.Background(), "good-known")
	}
	if took := time.Since(start); took > 150*time.Millisecond { // paced, they would take 300ms
		t.Errorf("a known token reviewed 6 times in %s; known tokens are not paced", took)
	}
}

// tokenReviewServer answers TokenReviews like fakeReviews, as the host's API would.
func tokenReviewServer(t *testing.T, f *fakeReviews) kubernetes.Interface {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var tr authenticationv1.TokenReview
		if err := json.NewDecoder(r.Body).Decode(&tr); err != nil || r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" {
			http.Error(w, fmt.Sprintf("not a TokenReview: %s %v", r.URL.Path, err), http.StatusBadRequest)
			return
		}
		resp, ok, err := f.AuthenticateToken(r.Context(), tr.Spec.Token)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		tr.Status.Authenticated = ok
		if ok {
			tr.Status.User = authenticationv1.UserInfo{Username: resp.User.GetName()}
		}
		tr.TypeMeta = metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&tr)
	}))
	t.Cleanup(srv.Close)
	kube, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return kube
}

// TestUnknownTokensWaitForReviews: through the front door with NewAuthenticator, while
// MaxUnknownTokenReviews reviews are held by the host, another unknown token waits for a slot and
// is answered once one is free, and a token the host accepted before gets through at once.
func TestUnknownTokensWaitForReviews(t *testing.T) {
	f := newFakeReviews()
	authn, err := NewAuthenticator(x509.NewCertPool(), tokenReviewServer(t, f).AuthenticationV1(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	host := &fakeHost{release: make(chan struct{})}
	gw := newTestGatewayWith(t, host, func(c *Config) { c.Authenticator = authn })
	var wg sync.WaitGroup
	released := false
	t.Cleanup(func() {
		close(host.release)
		if !released {
			close(f.release)
		}
		wg.Wait()
	})
	if code := bearerGet(t, gw.URL, "good-known"); code != http.StatusOK {
		t.Fatalf("good-known: %d", code)
	}
	if code := bearerGet(t, gw.URL, "bad"); code != http.StatusUnauthorized {
		t.Errorf("bad token: %d, want 401", code)
	}
	for i := range MaxUnknownTokenReviews {
		wg.Go(func() { bearerGet(t, gw.URL, fmt.Sprintf("slow-%d", i)) })
		<-f.started
	}
	queued := make(chan int, 1)
	wg.Go(func() { queued <- bearerGet(t, gw.URL, "good-queued") })
	// The answer cache lasts a millisecond: this is a review again, of a known token.
	if code := bearerGet(t, gw.URL, "good-known"); code != http.StatusOK {
		t.Errorf("known token with every review slot taken: %d, want 200", code)
	}
	if n := f.count("good-known"); n < 2 {
		t.Errorf("good-known reviewed %d times, want a second review (the cache should have expired)", n)
	}
	if n := f.count("good-queued"); n != 0 {
		t.Errorf("good-queued was reviewed while every slot was taken")
	}
	close(f.release)
	released = true
	if code := <-queued; code != http.StatusOK {
		t.Errorf("unknown token queued for a slot: %d, want 200 once slots were free", code)
	}
}

// TestThrottledReviewIsAnswered429: an unknown token that waited in vain for a review slot is
// answered 429 with Retry-After, not 401.
func TestThrottledReviewIsAnswered429(t *testing.T) {
	f := newFakeReviews()
	gate := newReviewGate(f, 0, 1, 50*time.Millisecond, 1000, clock.RealClock{})
	host := &fakeHost{release: make(chan struct{})}
	gw := newTestGatewayWith(t, host, func(c *Config) { c.Authenticator = bearertoken.New(gate) })
	var wg sync.WaitGroup
	t.Cleanup(func() { close(host.release); close(f.release); wg.Wait() })
	wg.Go(func() { bearerGet(t, gw.URL, "slow-1") })
	<-f.started
	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/api/v1/namespaces/default/configmaps", nil)
	req.Header.Set("Authorization", "Bearer good-new")
	resp, body := doReq(t, req)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "TooManyRequests") {
		t.Errorf("throttled review: %d, Retry-After %q, %s; want 429 TooManyRequests with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

func bearerGet(t *testing.T, gwURL, token string) int {
	req, _ := http.NewRequest(http.MethodGet, gwURL+"/api/v1/namespaces/default/configmaps", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, _ := doReq(t, req)
	return resp.StatusCode
}

func doReq(t *testing.T, req *http.Request) (*http.Response, string) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Error(err)
		return &http.Response{}, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}
