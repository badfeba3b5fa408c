package proxy

// One test per filter of the front door, each on its own (as k8s.io/apiserver/pkg/endpoints/filters
// tests its filters); handler_test.go tests them assembled by NewHandler.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// next records that the request reached the inner handler.
type next struct{ called bool }

func (n *next) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	n.called = true
	w.WriteHeader(http.StatusTeapot)
}

func TestWithPanicRecovery(t *testing.T) {
	h := withPanicRecovery(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api", nil))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"reason":"InternalError"`) || !strings.Contains(w.Body.String(), "boom") {
		t.Errorf("a panic: %d %s, want a 500 InternalError Status naming it", w.Code, w.Body)
	}

	// http.ErrAbortHandler is how a handler aborts a response on purpose: it must reach the server,
	// which drops the connection, instead of becoming a 500.
	srv := httptest.NewServer(withPanicRecovery(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Errorf("an aborted response ended cleanly (status %d): the abort was swallowed", resp.StatusCode)
	}
}

func TestWithPublic(t *testing.T) {
	readyErr := errors.New("host control plane not ready: dial tcp 10.0.0.1:6443: secret detail")
	ready := func() error { return readyErr }
	publicCalled := false
	public := map[string]http.Handler{"/webhooks/policies/validate": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		publicCalled = true
		w.WriteHeader(http.StatusOK)
	})}
	for _, tc := range []struct {
		path       string
		code       int
		body       string // "" : not checked
		toNext     bool
		toPublic   bool
		noSecrets  bool
		readyAgain bool
	}{
		{path: "/healthz", code: 200, body: "ok"},
		{path: "/livez", code: 200, body: "ok"},
		{path: "/readyz", code: 503, body: "not ready", noSecrets: true},
		{path: "/readyz", code: 200, body: "ok", readyAgain: true},
		{path: "/readyz?verbose", code: http.StatusTeapot, toNext: true}, // for authenticated callers only
		{path: "/webhooks/policies/validate", code: 200, toPublic: true},
		{path: "/webhooks/policies/validate/more", code: http.StatusTeapot, toNext: true}, // exact paths only
		{path: "/api/v1/pods", code: http.StatusTeapot, toNext: true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			readyErr = errors.New("host control plane not ready: dial tcp 10.0.0.1:6443: secret detail")
			if tc.readyAgain {
				readyErr = nil
			}
			publicCalled = false
			n := &next{}
			w := httptest.NewRecorder()
			withPublic(n, ready, public).ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if w.Code != tc.code || tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("%d %q, want %d %q", w.Code, w.Body, tc.code, tc.body)
			}
			if n.called != tc.toNext || publicCalled != tc.toPublic {
				t.Errorf("reached next %v, public %v; want %v, %v", n.called, publicCalled, tc.toNext, tc.toPublic)
			}
			if tc.noSecrets && strings.Contains(w.Body.String(), "10.0.0.1") {
				t.Errorf("anonymous /readyz told why: %q", w.Body)
			}
		})
	}
}

func TestReadyVerbose(t *testing.T) {
	w := httptest.NewRecorder()
	readyVerbose(func() error { return errors.New("caches not synced") }).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz?verbose", nil))
	if w.Code != http.StatusServiceUnavailable || w.Body.String() != "not ready: caches not synced" {
		t.Errorf("%d %q, want 503 with the reason", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	readyVerbose(func() error { return nil }).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz?verbose", nil))
	if w.Code != http.StatusOK || w.Body.String() != "ok" {
		t.Errorf("%d %q, want 200 ok", w.Code, w.Body)
	}
}

// recordingAuthorizer allows what allow says and records what it was asked.
type recordingAuthorizer struct {
	allow bool
	asked []authorizer.Attributes
}

func (a *recordingAuthorizer) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	a.asked = append(a.asked, attrs)
	if a.allow {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
}

func TestAllowNonResource(t *testing.T) {
	for _, allow := range []bool{true, false} {
		a := &recordingAuthorizer{allow: allow}
		n := &next{}
		r := httptest.NewRequest(http.MethodGet, "/debug/pprof/heap", nil)
		r = r.WithContext(request.WithUser(r.Context(), &user.DefaultInfo{Name: "alice"}))
		w := httptest.NewRecorder()
		allowNonResource(a, n).ServeHTTP(w, r)
		if len(a.asked) != 1 || a.asked[0].IsResourceRequest() || a.asked[0].GetPath() != "/debug/pprof/heap" || a.asked[0].GetVerb() != "get" || a.asked[0].GetUser().GetName() != "alice" {
			t.Errorf("asked %+v, want one non-resource get of /debug/pprof/heap for alice", a.asked)
		}
		if allow && (!n.called || w.Code != http.StatusTeapot) {
			t.Errorf("allowed, but got %d", w.Code)
		}
		if !allow && (n.called || w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "no RBAC policy matched")) {
			t.Errorf("denied, but got %d %s (next called %v)", w.Code, w.Body, n.called)
		}
	}
	// No user: never served, never asked.
	a := &recordingAuthorizer{allow: true}
	n := &next{}
	w := httptest.NewRecorder()
	allowNonResource(a, n).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/debug/pprof/heap", nil))
	if w.Code != http.StatusUnauthorized || n.called || len(a.asked) != 0 {
		t.Errorf("no user: %d, next called %v, authorizer asked %d times; want 401", w.Code, n.called, len(a.asked))
	}
}

// withMetrics labels a request by what it asked for only when authenticatedMetrics (which sits
// after authentication) saw it; otherwise by code alone.
func TestWithMetricsAndAuthenticatedMetrics(t *testing.T) {
	m := NewMetrics()
	info := &request.RequestInfo{IsResourceRequest: true, Verb: "list", APIGroup: "apps", Resource: "deployments"}
	withInfo := func(r *http.Request) *http.Request {
		return r.WithContext(request.WithRequestInfo(r.Context(), info))
	}
	refused := withMetrics(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }), m)
	refused.ServeHTTP(httptest.NewRecorder(), withInfo(httptest.NewRequest(http.MethodGet, "/apis/apps/v1/deployments", nil)))
	served := withMetrics(authenticatedMetrics(&next{}), m)
	served.ServeHTTP(httptest.NewRecorder(), withInfo(httptest.NewRequest(http.MethodGet, "/apis/apps/v1/deployments", nil)))
	served.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/version", nil).WithContext(
		request.WithRequestInfo(context.Background(), &request.RequestInfo{Path: "/version"})))

	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"unauthenticated", "", "", "401"}, 1},
		{[]string{"list", "apps", "deployments", "418"}, 1},
		{[]string{"nonresource", "", "", "418"}, 1},
		{[]string{"list", "apps", "deployments", "401"}, 0},
	} {
		if got := requestsTotal(t, m, tc.labels...); got != tc.want {
			t.Errorf("fleetgate_requests_total%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
}

func TestStripCredentials(t *testing.T) {
	h := http.Header{}
	for _, k := range []string{"Authorization", "Impersonate-User", "Impersonate-Group", "Impersonate-Extra-Scopes", "Impersonate-Uid", "X-Remote-User", "X-Remote-Group", "X-Remote-Extra-Foo"} {
		h.Set(k, "mallory")
	}
	h.Set("Accept", "application/json")
	h.Set("Content-Type", "application/json")
	stripCredentials(h)
	if len(h) != 2 || h.Get("Accept") == "" || h.Get("Content-Type") == "" {
		t.Errorf("after stripping: %v, want only Accept and Content-Type", h)
	}
}

// roundTripperFunc records the request it is given.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestActingTransport(t *testing.T) {
	var got http.Header
	rt := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		got = r.Header.Clone()
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})
	for _, tc := range []struct {
		id           Identity
		want, absent string // header prefixes
	}{
		{id: Impersonate, want: "Impersonate-", absent: "X-Remote-"},
		{id: FrontProxy, want: "X-Remote-", absent: "Impersonate-"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			tr := &actingTransport{regular: rt, upgrade: rt, id: tc.id}
			r := httptest.NewRequest(http.MethodGet, "https://host/api", nil)
			r.RequestURI = ""
			r = r.WithContext(request.WithUser(r.Context(), &user.DefaultInfo{Name: "alice", UID: "u-1", Groups: []string{"dev", "system:authenticated"}, Extra: map[string][]string{"scopes": {"a"}}}))
			if _, err := tr.RoundTrip(r); err != nil {
				t.Fatal(err)
			}
			p := tc.want
			if got.Get(p+"User") != "alice" || got.Get(p+"Uid") != "u-1" || len(got.Values(p+"Group")) != 2 || got.Get(p+"Extra-Scopes") != "a" {
				t.Errorf("%s* headers %v", p, got)
			}
			for k := range got {
				if strings.HasPrefix(k, tc.absent) {
					t.Errorf("header %s sent with identity %v", k, tc.id)
				}
			}
			// Without a user the front door must never forward as itself.
			got = nil
			r = httptest.NewRequest(http.MethodGet, "https://host/api", nil)
			r.RequestURI = ""
			if _, err := tr.RoundTrip(r); err == nil || got != nil {
				t.Errorf("a request without a user was forwarded (err %v)", err)
			}
		})
	}
}

// requestsTotal reads fleetgate_requests_total{verb, group, resource, code}; 0 if no such series.
func requestsTotal(t *testing.T, m *Metrics, labels ...string) float64 {
	t.Helper()
	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"verb", "group", "resource", "code"}
	for _, f := range families {
		if f.GetName() != "fleetgate_requests_total" {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range s.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for i, n := range names {
				if got[n] != labels[i] {
					continue series
				}
			}
			return s.GetCounter().GetValue()
		}
	}
	return 0
}
