package memberview

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// withNotReady adds clusters whose Ready condition is False to members.
func withNotReady(members func() []*clusterv1alpha1.Cluster, names ...string) func() []*clusterv1alpha1.Cluster {
	return func() []*clusterv1alpha1.Cluster {
		out := members()
		for _, n := range names {
			c := &clusterv1alpha1.Cluster{}
			c.Name = n
			c.Status.Conditions = []metav1.Condition{{Type: clusterv1alpha1.ClusterConditionReady, Status: metav1.ConditionFalse, Reason: "Unreachable"}}
			out = append(out, c)
		}
		return out
	}
}

// podJSON is a pod as kube-apiserver lists it (items carry no kind).
func podJSON(name, rv string) string {
	return fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"shop","uid":"uid-%s","resourceVersion":%q,"creationTimestamp":"2024-05-01T10:00:00Z","labels":{"app":"web"},"annotations":{"team":"shop"}},"spec":{"containers":[{"name":"web","image":"nginx:1.27","resources":{}}],"restartPolicy":"Always","nodeName":"node-1"},"status":{"phase":"Running","podIP":"10.0.0.7"}}`, name, name, rv)
}

// podListMember answers every request with a PodList of names at rv, as kube-apiserver does.
func podListMember(rv string, names ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items := make([]string, len(names))
		for i, n := range names {
			items[i] = podJSON(n, rv)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":%q},"items":[%s]}`+"\n", rv, strings.Join(items, ","))
	})
}

// statusMember answers every request with a kube-apiserver error Status.
func statusMember(code int, reason metav1.StatusReason, message string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		b, _ := json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Message: message, Reason: reason, Code: int32(code)})
		w.Write(b)
	})
}

const forbiddenPods = `pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "shop"`

// warningTexts returns the texts of a response's Warning headers.
func warningTexts(t *testing.T, h http.Header) []string {
	t.Helper()
	var out []string
	for _, v := range h.Values("Warning") {
		code, rest, ok := strings.Cut(v, " - ")
		if !ok || code != "299" {
			t.Errorf("Warning header %q is not 299 - \"text\"", v)
			continue
		}
		s, err := strconv.Unquote(rest)
		if err != nil {
			t.Errorf("Warning header %q: %v", v, err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// hasWarning reports whether one of warnings contains every part.
func hasWarning(warnings []string, parts ...string) bool {
	for _, w := range warnings {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(w, p)
		}
		if all {
			return true
		}
	}
	return false
}

// mergedPods is a merged pod list as clients decode it.
func mergedPods(t *testing.T, body []byte) (*corev1.PodList, []string) {
	t.Helper()
	var list corev1.PodList
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("merged list does not decode: %v\n%s", err, body)
	}
	var got []string
	for _, p := range list.Items {
		got = append(got, p.Annotations[AnnotationCluster]+"/"+p.Name)
	}
	return &list, got
}

func podsView(members func() []*clusterv1alpha1.Cluster, clusters Clusters) *View {
	return New(Config{Members: members, Clusters: clusters, Resources: []schema.GroupResource{{Resource: "pods"}}})
}

func TestListMerged(t *testing.T) {
	for _, tc := range []struct {
		name         string
		members      func() []*clusterv1alpha1.Cluster
		clusters     fakeMembers
		wantCode     int
		wantItems    string // cluster/name, in order
		wantRV       string // the composite, as fmt prints the map; "" for none
		wantWarnings [][]string
		wantKind     string
	}{
		{
			name:     "two members",
			members:  ready("member2", "member1"),
			clusters: fakeMembers{"member1": podListMember("100", "web-1", "web-2"), "member2": podListMember("200", "api-1")},
			wantCode: 200, wantItems: "[member1/web-1 member1/web-2 member2/api-1]", wantRV: "map[member1:100 member2:200]", wantKind: "PodList",
		},
		{
			name:     "three members, sorted by name",
			members:  ready("c", "a", "b"),
			clusters: fakeMembers{"a": podListMember("1", "x"), "b": podListMember("2"), "c": podListMember("3", "y", "z")},
			wantCode: 200, wantItems: "[a/x c/y c/z]", wantRV: "map[a:1 b:2 c:3]", wantKind: "PodList",
		},
		{
			name:     "a member that is not Ready is skipped with a warning",
			members:  withNotReady(ready("member1"), "member2"),
			clusters: fakeMembers{"member1": podListMember("100", "web-1"), "member2": podListMember("200", "api-1")},
			wantCode: 200, wantItems: "[member1/web-1]", wantRV: "map[member1:100]", wantKind: "PodList",
			wantWarnings: [][]string{{"member2", "not ready"}},
		},
		{
			name:     "a member answering 500 is left out with a warning",
			members:  ready("member1", "member2", "member3"),
			clusters: fakeMembers{"member1": statusMember(500, metav1.StatusReasonInternalError, "etcdserver: request timed out"), "member2": podListMember("200", "api-1"), "member3": podListMember("300", "db-1")},
			wantCode: 200, wantItems: "[member2/api-1 member3/db-1]", wantRV: "map[member2:200 member3:300]", wantKind: "PodList",
			wantWarnings: [][]string{{"member1", "etcdserver: request timed out"}},
		},
		{
			name:     "a member answering 403 is left out with a warning",
			members:  ready("member1", "member2"),
			clusters: fakeMembers{"member1": podListMember("100", "web-1"), "member2": statusMember(403, metav1.StatusReasonForbidden, forbiddenPods)},
			wantCode: 200, wantItems: "[member1/web-1]", wantRV: "map[member1:100]", wantKind: "PodList",
			wantWarnings: [][]string{{"member2", forbiddenPods}},
		},
		{
			name:     "two members failing, one answering",
			members:  ready("member1", "member2", "member3"),
			clusters: fakeMembers{"member1": statusMember(403, metav1.StatusReasonForbidden, forbiddenPods), "member2": statusMember(503, metav1.StatusReasonServiceUnavailable, "the server is currently unable to handle the request"), "member3": podListMember("300", "db-1")},
			wantCode: 200, wantItems: "[member3/db-1]", wantRV: "map[member3:300]", wantKind: "PodList",
			wantWarnings: [][]string{{"member1", forbiddenPods}, {"member2", "unable to handle"}},
		},
		{
			name:     "a member that cannot be reached is left out with a warning",
			members:  ready("member1", "gone"),
			clusters: fakeMembers{"member1": podListMember("100", "web-1")},
			wantCode: 200, wantItems: "[member1/web-1]", wantRV: "map[member1:100]", wantKind: "PodList",
			wantWarnings: [][]string{{"gone"}},
		},
		{
			name:     "every member forbidden: the client gets 403",
			members:  ready("member1", "member2"),
			clusters: fakeMembers{"member1": statusMember(403, metav1.StatusReasonForbidden, forbiddenPods), "member2": statusMember(403, metav1.StatusReasonForbidden, forbiddenPods)},
			wantCode: 403, wantWarnings: [][]string{{"member2", forbiddenPods}},
		},
		{
			name:     "every member failing: the client gets 500",
			members:  ready("member1", "member2"),
			clusters: fakeMembers{"member1": statusMember(500, metav1.StatusReasonInternalError, "boom"), "member2": statusMember(500, metav1.StatusReasonInternalError, "bang")},
			wantCode: 500, wantWarnings: [][]string{{"member2", "bang"}},
		},
		{
			name:     "no Ready member: an empty list",
			members:  withNotReady(ready(), "member1"),
			clusters: fakeMembers{"member1": podListMember("100", "web-1")},
			wantCode: 200, wantItems: "[]", wantWarnings: [][]string{{"member1", "not ready"}},
		},
		{
			name:     "no member at all: an empty list",
			members:  ready(),
			clusters: fakeMembers{},
			wantCode: 200, wantItems: "[]",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, target := range []string{"/api/v1/namespaces/shop/pods", "/api/v1/namespaces/shop/pods?limit=500"} {
				rec := serve(t, podsView(tc.members, tc.clusters), http.MethodGet, target, "application/json")
				body := rec.Body.Bytes()
				if rec.Code != tc.wantCode {
					t.Fatalf("%s: %d, want %d\n%s", target, rec.Code, tc.wantCode, body)
				}
				warnings := warningTexts(t, rec.Header())
				for _, w := range tc.wantWarnings {
					if !hasWarning(warnings, w...) {
						t.Errorf("%s: no warning with %q among %q", target, w, warnings)
					}
				}
				if len(warnings) != len(tc.wantWarnings) {
					t.Errorf("%s: warnings %q, want %d", target, warnings, len(tc.wantWarnings))
				}
				if tc.wantCode != 200 {
					var st metav1.Status
					if err := json.Unmarshal(body, &st); err != nil || int(st.Code) != tc.wantCode || st.Kind != "Status" {
						t.Errorf("%s: not the member's Status: %v\n%s", target, err, body)
					}
					continue
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("%s: Content-Type %q", target, ct)
				}
				list, items := mergedPods(t, body)
				if fmt.Sprint(items) != tc.wantItems {
					t.Errorf("%s: items %v, want %s\n%s", target, items, tc.wantItems, body)
				}
				if tc.wantKind != "" && (list.Kind != tc.wantKind || list.APIVersion != "v1") {
					t.Errorf("%s: kind %q apiVersion %q", target, list.Kind, list.APIVersion)
				}
				if tc.wantRV == "" {
					if list.ResourceVersion != "" {
						t.Errorf("%s: resourceVersion %q, want none", target, list.ResourceVersion)
					}
				} else {
					pos, composite, err := decodeVersions(list.ResourceVersion)
					if err != nil || !composite || fmt.Sprint(pos) != tc.wantRV {
						t.Errorf("%s: resourceVersion %q = %v %v %v, want %s", target, list.ResourceVersion, pos, composite, err, tc.wantRV)
					}
				}
				if list.Continue != "" {
					t.Errorf("%s: continue %q on a list that fits", target, list.Continue)
				}
				for _, p := range list.Items {
					if p.Annotations["team"] != "shop" || p.Spec.NodeName != "node-1" || p.Status.PodIP != "10.0.0.7" || p.Namespace != "shop" {
						t.Errorf("%s: item lost fields: %+v", target, p)
					}
				}
			}
		})
	}
}

func TestListAnswerTimeout(t *testing.T) {
	defer func(d time.Duration) { AnswerTimeout = d }(AnswerTimeout)
	AnswerTimeout = time.Second
	stuck := make(chan struct{}) // closed once the stuck member's request has ended
	clusters := fakeMembers{
		"member1": podListMember("100", "web-1"),
		"member2": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers; the view gives up
			close(stuck)
		}),
	}
	rec := serve(t, podsView(ready("member1", "member2"), clusters), http.MethodGet, "/api/v1/namespaces/shop/pods", "application/json")
	if rec.Code != 200 {
		t.Fatalf("%d\n%s", rec.Code, rec.Body)
	}
	select {
	case <-stuck:
	default:
		t.Error("the stuck member's request was not ended")
	}
	if _, items := mergedPods(t, rec.Body.Bytes()); fmt.Sprint(items) != "[member1/web-1]" {
		t.Errorf("items %v", items)
	}
	if w := warningTexts(t, rec.Header()); !hasWarning(w, "member2", "did not answer within "+AnswerTimeout.String()) {
		t.Errorf("warnings %q", w)
	}
}

func TestListTableMergedWithWarnings(t *testing.T) {
	v := podsView(withNotReady(ready("b", "a"), "c"), fakeMembers{"a": tableMember("10", "p1"), "b": statusMember(403, metav1.StatusReasonForbidden, forbiddenPods)})
	rec := serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods", tableAccept)
	if rec.Code != 200 {
		t.Fatalf("%d\n%s", rec.Code, rec.Body)
	}
	var table metav1.Table
	if err := json.Unmarshal(rec.Body.Bytes(), &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 1 || table.Rows[0].Cells[0] != "a" || table.ColumnDefinitions[0].Name != "Cluster" {
		t.Errorf("table %+v", table)
	}
	w := warningTexts(t, rec.Header())
	if !hasWarning(w, "b", forbiddenPods) || !hasWarning(w, "c", "not ready") {
		t.Errorf("warnings %q", w)
	}
}

func TestListNotJSON(t *testing.T) {
	v := podsView(ready("a"), fakeMembers{"a": podListMember("1", "x")})
	rec := serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods", "application/vnd.kubernetes.protobuf")
	if rec.Code != http.StatusNotAcceptable {
		t.Errorf("protobuf only: %d, want 406\n%s", rec.Code, rec.Body)
	}
	rec = serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods", "application/vnd.kubernetes.protobuf,application/json")
	if rec.Code != 200 {
		t.Errorf("protobuf or JSON: %d, want 200\n%s", rec.Code, rec.Body)
	}
}

func TestListFromResourceVersion(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	member := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got[name] = r.URL.RawQuery
			mu.Unlock()
			podListMember("5", "p").ServeHTTP(w, r)
		})
	}
	v := podsView(ready("a", "b", "c"), fakeMembers{"a": member("a"), "b": member("b"), "c": member("c")})
	from := versions{"a": "10", "b": "20"}.encode()
	rec := serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods?resourceVersionMatch=NotOlderThan&resourceVersion="+from, "application/json")
	if rec.Code != 200 {
		t.Fatalf("%d\n%s", rec.Code, rec.Body)
	}
	want := map[string]string{"a": "resourceVersion=10&resourceVersionMatch=NotOlderThan", "b": "resourceVersion=20&resourceVersionMatch=NotOlderThan", "c": ""}
	mu.Lock()
	queries := fmt.Sprint(got)
	mu.Unlock()
	if queries != fmt.Sprint(want) {
		t.Errorf("member queries %v, want %v", queries, want)
	}
	// A member's own resourceVersion is no position of the view: 410, so that the client lists again.
	rec = serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods?resourceVersion=123", "application/json")
	if rec.Code != http.StatusGone {
		t.Errorf("resourceVersion=123: %d, want 410\n%s", rec.Code, rec.Body)
	}
	rec = serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods?resourceVersion=fg1.***", "application/json")
	if rec.Code != http.StatusBadRequest {
		t.Errorf("resourceVersion=fg1.***: %d, want 400\n%s", rec.Code, rec.Body)
	}
}
