package memberview

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/request"
)

func TestServes(t *testing.T) {
	v := New(Config{Resources: DefaultResources})
	info := func(method, path string) *request.RequestInfo {
		t.Helper()
		r := httptest.NewRequest(method, path, nil)
		i, err := (&request.RequestInfoFactory{APIPrefixes: setOf("api", "apis"), GrouplessAPIPrefixes: setOf("api")}).NewRequestInfo(r)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	for _, tc := range []struct {
		method, path string
		want         bool
	}{
		{http.MethodGet, "/api/v1/namespaces/shop/pods", true},
		{http.MethodGet, "/api/v1/pods", true},
		{http.MethodGet, "/api/v1/namespaces/shop/pods?watch=true", true},
		{http.MethodGet, "/api/v1/watch/namespaces/shop/pods", true},
		{http.MethodGet, "/api/v1/namespaces/shop/pods/web-1", true},
		{http.MethodGet, "/api/v1/namespaces/shop/pods/web-1/log", true},
		{http.MethodGet, "/api/v1/namespaces/shop/pods/web-1/exec?command=sh", true},
		{http.MethodGet, "/api/v1/nodes", true},
		{http.MethodGet, "/api/v1/nodes/node-1", true},
		{http.MethodGet, "/api/v1/namespaces/shop/endpoints", true},
		{http.MethodGet, "/apis/apps/v1/namespaces/shop/replicasets", true},
		{http.MethodGet, "/apis/apps/v1/namespaces/shop/controllerrevisions/web-1", true},
		{http.MethodGet, "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices", true},
		{http.MethodPut, "/api/v1/namespaces/shop/pods/web-1", true},
		{http.MethodPut, "/api/v1/namespaces/shop/pods/web-1/status", true},
		{http.MethodPatch, "/apis/apps/v1/namespaces/shop/replicasets/web", true},
		{http.MethodDelete, "/api/v1/namespaces/shop/pods/web-1", true},
		{http.MethodPost, "/api/v1/namespaces/shop/pods/web-1/eviction", true},
		{http.MethodPost, "/api/v1/namespaces/shop/pods/web-1/exec?command=sh", true},
		// Creates are templates: the host's.
		{http.MethodPost, "/api/v1/namespaces/shop/pods", false},
		{http.MethodPost, "/api/v1/namespaces/shop/pods/web-1", false}, // a create naming the object
		// Updates and patches of a collection are no writes by name.
		{http.MethodPut, "/api/v1/namespaces/shop/pods", false},
		{http.MethodPatch, "/api/v1/namespaces/shop/pods", false},
		{http.MethodPost, "/apis/apps/v1/namespaces/shop/replicasets", false},
		// Collections are deleted on the host.
		{http.MethodDelete, "/api/v1/namespaces/shop/pods", false},
		// Not in the view.
		{http.MethodGet, "/apis/apps/v1/namespaces/shop/deployments", false},
		{http.MethodGet, "/api/v1/namespaces/shop/configmaps/x", false},
		{http.MethodGet, "/api/v1/namespaces/shop/services", false},
		{http.MethodGet, "/apis/extensions/v1beta1/namespaces/shop/replicasets", false}, // another group
		{http.MethodGet, "/api/v1/namespaces/shop", false},
		{http.MethodGet, "/api/v1/namespaces", false},
		{http.MethodGet, "/healthz", false},
		{http.MethodGet, "/api", false},
		{http.MethodGet, "/apis/apps/v1", false},
	} {
		if got := v.Serves(info(tc.method, tc.path)); got != tc.want {
			t.Errorf("Serves(%s %s) = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
	if v.Serves(nil) {
		t.Error("Serves(nil) = true")
	}
	// Only the configured resources.
	onlyPods := New(Config{Resources: []schema.GroupResource{{Resource: "pods"}}})
	if !onlyPods.Serves(info(http.MethodGet, "/api/v1/pods")) || onlyPods.Serves(info(http.MethodGet, "/api/v1/nodes")) {
		t.Error("a view of pods only serves more or less than pods")
	}
	if New(Config{}).Serves(info(http.MethodGet, "/api/v1/pods")) {
		t.Error("a view of nothing serves pods")
	}
}

func TestParseResources(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []schema.GroupResource
		wantErr string // the offending entry, quoted in the error
	}{
		{in: "pods,replicasets.apps", want: []schema.GroupResource{{Resource: "pods"}, {Group: "apps", Resource: "replicasets"}}},
		{in: " pods , nodes ,", want: []schema.GroupResource{{Resource: "pods"}, {Resource: "nodes"}}},
		{in: "endpointslices.discovery.k8s.io", want: []schema.GroupResource{{Group: "discovery.k8s.io", Resource: "endpointslices"}}},
		{in: "", want: nil},
		{in: "pods,pods/log", wantErr: `"pods/log"`},
		{in: "pods,.apps", wantErr: `".apps"`},
		{in: "replica sets.apps,pods", wantErr: `"replica sets.apps"`},
		{in: "apps/v1/replicasets", wantErr: `"apps/v1/replicasets"`},
	} {
		got, err := ParseResources(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseResources(%q) = %v, %v; want an error naming %s", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseResources(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	// The default resources parse from their own names.
	var names []string
	for _, gr := range DefaultResources {
		names = append(names, gr.String())
	}
	got, err := ParseResources(strings.Join(names, ","))
	if err != nil || !reflect.DeepEqual(got, DefaultResources) {
		t.Errorf("ParseResources(%q) = %v, %v; want %v", strings.Join(names, ","), got, err, DefaultResources)
	}
}
