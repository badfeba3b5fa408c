package memberview

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// fakeMembers answers each cluster's requests with a handler (a unit test's stand-in for members).
type fakeMembers map[string]http.Handler

func (f fakeMembers) Do(cluster string, req *http.Request) (*http.Response, error) {
	h, ok := f[cluster]
	if !ok {
		return nil, fmt.Errorf("no cluster %s", cluster)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func (f fakeMembers) Proxy(cluster string, w http.ResponseWriter, r *http.Request) {
	f[cluster].ServeHTTP(w, r)
}

func ready(names ...string) func() []*clusterv1alpha1.Cluster {
	return func() []*clusterv1alpha1.Cluster {
		var out []*clusterv1alpha1.Cluster
		for _, n := range names {
			c := &clusterv1alpha1.Cluster{}
			c.Name = n
			c.Status.Conditions = []metav1.Condition{{Type: clusterv1alpha1.ClusterConditionReady, Status: metav1.ConditionTrue}}
			out = append(out, c)
		}
		return out
	}
}

// tableMember answers a pod list as kube-apiserver does for as=Table, with rows for names, at rv.
func tableMember(rv string, names ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rows []string
		for _, n := range names {
			rows = append(rows, fmt.Sprintf(`{"cells":[%q,"Running"],"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":%q,"resourceVersion":"5"}}}`, n, n))
		}
		w.Header().Set("Content-Type", "application/json") // as kube-apiserver 1.37 does
		fmt.Fprintf(w, `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":%q},"columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"","priority":0},{"name":"Status","type":"string","format":"","description":"","priority":0}],"rows":[%s]}`,
			rv, strings.Join(rows, ","))
	})
}

func serve(t *testing.T, v *View, method, target, accept string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	r.Header.Set("Accept", accept)
	info, err := (&request.RequestInfoFactory{APIPrefixes: setOf("api", "apis"), GrouplessAPIPrefixes: setOf("api")}).NewRequestInfo(r)
	if err != nil {
		t.Fatal(err)
	}
	r = r.WithContext(request.WithRequestInfo(context.Background(), info))
	rec := httptest.NewRecorder()
	v.ServeHTTP(rec, r)
	return rec
}

const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

func TestTableListMerged(t *testing.T) {
	v := New(Config{Members: ready("b", "a"), Clusters: fakeMembers{"a": tableMember("10", "p1", "p2"), "b": tableMember("20", "q1")},
		Resources: []schema.GroupResource{{Resource: "pods"}}})
	for _, target := range []string{"/api/v1/namespaces/ns/pods", "/api/v1/namespaces/ns/pods?limit=500"} {
		rec := serve(t, v, http.MethodGet, target, tableAccept)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s\n%s", target, rec.Code, rec.Header(), body)
		}
		var table metav1.Table
		if err := json.Unmarshal(body, &table); err != nil {
			t.Fatalf("%s: %v\n%s", target, err, body)
		}
		var raw map[string]any
		_ = json.Unmarshal(body, &raw)
		if _, ok := raw["items"]; ok || table.Kind != "Table" {
			t.Errorf("%s: not a Table:\n%s", target, body)
		}
		if len(table.ColumnDefinitions) != 3 || table.ColumnDefinitions[0].Name != "Cluster" {
			t.Errorf("%s: columns %+v", target, table.ColumnDefinitions)
		}
		var got []string
		for _, row := range table.Rows {
			got = append(got, fmt.Sprint(row.Cells[0], "/", row.Cells[1]))
		}
		if fmt.Sprint(got) != "[a/p1 a/p2 b/q1]" {
			t.Errorf("%s: rows %v\n%s", target, got, body)
		}
		pos, composite, err := decodeVersions(table.ResourceVersion)
		if err != nil || !composite || fmt.Sprint(pos) != "map[a:10 b:20]" {
			t.Errorf("%s: resourceVersion %q: %v %v", target, table.ResourceVersion, pos, err)
		}
	}
}

func setOf(s ...string) sets.String { return sets.NewString(s...) }
