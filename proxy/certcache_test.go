package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	testingclock "k8s.io/utils/clock/testing"
)

func TestCertCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakePassiveClock(now)
	calls, accept := 0, true
	delegate := authenticator.RequestFunc(func(*http.Request) (*authenticator.Response, bool, error) {
		calls++
		if !accept {
			return nil, false, nil
		}
		return &authenticator.Response{User: &user.DefaultInfo{Name: "alice"}}, true, nil
	})
	c := newCertCache(delegate, time.Minute, 10, clk)
	req := func(raw string, notAfter time.Time) *http.Request {
		r, _ := http.NewRequest("GET", "/", nil)
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Raw: []byte(raw), NotAfter: notAfter}}}
		return r
	}
	far := now.Add(time.Hour)
	auth := func(r *http.Request) bool {
		t.Helper()
		resp, ok, err := c.AuthenticateRequest(r)
		if err != nil {
			t.Fatal(err)
		}
		return ok && resp.User.GetName() == "alice"
	}

	if r, _ := http.NewRequest("GET", "/", nil); func() bool { _, ok, _ := c.AuthenticateRequest(r); return ok }() || calls != 0 {
		t.Fatalf("a request without TLS was authenticated or delegated")
	}
	if !auth(req("a", far)) || !auth(req("a", far)) || calls != 1 {
		t.Fatalf("second request with the same certificate verified again: %d calls", calls)
	}
	if !auth(req("b", far)) || calls != 2 {
		t.Fatalf("another certificate was not verified: %d calls", calls)
	}
	clk.SetTime(now.Add(61 * time.Second))
	if !auth(req("a", far)) || calls != 3 {
		t.Fatalf("entry outlived its ttl: %d calls", calls)
	}
	// An entry never outlives the certificate.
	short := now.Add(90 * time.Second)
	if !auth(req("c", short)) || calls != 4 {
		t.Fatal("c not verified")
	}
	clk.SetTime(now.Add(91 * time.Second))
	accept = false
	if auth(req("c", short)) || calls != 5 {
		t.Fatalf("an expired certificate was served from the cache: %d calls", calls)
	}
	// Failures are not cached.
	if auth(req("d", far)) || auth(req("d", far)) || calls != 7 {
		t.Fatalf("a failure was cached: %d calls", calls)
	}
}
