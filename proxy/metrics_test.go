package proxy

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"k8s.io/client-go/rest"
)

// seriesOf counts the series of the gateway's request metrics.
func seriesOf(t *testing.T, m *Metrics) int {
	t.Helper()
	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		switch f.GetName() {
		case "fleetgate_requests_total", "fleetgate_request_duration_seconds":
			n += len(f.GetMetric())
		}
	}
	return n
}

// Requests refused before authentication are one series per code, whatever their path: 10 000
// anonymous requests to random resource paths add no series after the first. Authenticated
// requests are labelled by what they asked for.
func TestUnauthenticatedRequestsAddNoSeries(t *testing.T) {
	host := &fakeHost{release: make(chan struct{})}
	hostSrv := httptest.NewTLSServer(host)
	t.Cleanup(hostSrv.Close)
	t.Cleanup(func() { close(host.release) })
	m := NewMetrics()
	h, err := NewHandler(Config{
		Host:          &rest.Config{Host: hostSrv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hostSrv.Certificate().Raw})}},
		Authenticator: testAuthn,
		Authorizer:    testAuthz,
		Ready:         func() error { return nil },
		Metrics:       m,
	})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(path, auth string) int {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := serve("/apis/warmup.example/v1/things", ""); code != http.StatusUnauthorized {
		t.Fatalf("anonymous request: %d, want 401", code)
	}
	before := seriesOf(t, m)
	for i := range 10000 {
		if code := serve(fmt.Sprintf("/apis/g%d.example/v1/r%d", i, i), "Bearer wrong"); code != http.StatusUnauthorized {
			t.Fatalf("request %d with a bad token: %d, want 401", i, code)
		}
	}
	if after := seriesOf(t, m); after != before {
		t.Errorf("10 000 refused requests to random paths: %d series, want %d as before", after, before)
	}
	if code := serve("/api/v1/namespaces/default/configmaps/x", "Bearer alice"); code != http.StatusOK {
		t.Fatalf("alice's GET: %d", code)
	}
	if after := seriesOf(t, m); after <= before {
		t.Errorf("an authenticated GET added no series (%d, before %d): its labels are lost", after, before)
	}
}
