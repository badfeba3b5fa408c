package memberview

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// podMember serves GET (object or Table) and PUT of the pods it has, by name, as kube-apiserver
// does; it records the bodies of the writes it receives.
type podMember struct {
	rv     string
	pods   map[string]bool
	mu     sync.Mutex
	writes []string // "METHOD path body"
}

func newPodMember(rv string, names ...string) *podMember {
	m := &podMember{rv: rv, pods: map[string]bool{}}
	for _, n := range names {
		m.pods[n] = true
	}
	return m
}

func (m *podMember) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	if strings.HasSuffix(r.URL.Path, "/eviction") {
		name = path.Base(path.Dir(r.URL.Path))
	}
	if !m.pods[name] {
		statusMember(404, metav1.StatusReasonNotFound, fmt.Sprintf("pods %q not found", name)).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet {
		b, _ := io.ReadAll(r.Body)
		m.mu.Lock()
		m.writes = append(m.writes, r.Method+" "+r.URL.Path+" "+string(b))
		m.mu.Unlock()
		w.Write(b)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "as=Table") {
		fmt.Fprintf(w, `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":%q},"columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"","priority":0},{"name":"Status","type":"string","format":"","description":"","priority":0}],"rows":[{"cells":[%q,"Running"],"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":%q,"namespace":"shop","resourceVersion":%q}}}]}`, m.rv, name, name, m.rv)
		return
	}
	fmt.Fprint(w, `{"kind":"Pod","apiVersion":"v1",`+strings.TrimPrefix(podJSON(name, m.rv), "{"))
}

func (m *podMember) recordedWrites() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.writes...)
}

func TestGetByName(t *testing.T) {
	for _, tc := range []struct {
		name     string
		clusters fakeMembers
		target   string
		accept   string
		wantCode int
		wantFrom string   // the cluster annotation of the answer
		wantMsg  []string // parts of the error's message
		wantWarn []string
	}{
		{
			name:     "in one member",
			clusters: fakeMembers{"member1": newPodMember("10"), "member2": newPodMember("20", "web-1")},
			target:   "/api/v1/namespaces/shop/pods/web-1", wantCode: 200, wantFrom: "member2",
		},
		{
			name:     "in one member, another forbidden",
			clusters: fakeMembers{"member1": statusMember(403, metav1.StatusReasonForbidden, `pods "web-1" is forbidden`), "member2": newPodMember("20", "web-1")},
			target:   "/api/v1/namespaces/shop/pods/web-1", wantCode: 200, wantFrom: "member2", wantWarn: []string{"member1", "forbidden"},
		},
		{
			name:     "in two members",
			clusters: fakeMembers{"member1": newPodMember("10", "web-1"), "member2": newPodMember("20", "web-1"), "member3": newPodMember("30")},
			target:   "/api/v1/namespaces/shop/pods/web-1", wantCode: 409,
			wantMsg: []string{"member1, member2", "/clusters/<cluster>/api/v1/namespaces/shop/pods/web-1"},
		},
		{
			name:     "in no member",
			clusters: fakeMembers{"member1": newPodMember("10"), "member2": newPodMember("20")},
			target:   "/api/v1/namespaces/shop/pods/x", wantCode: 404, wantMsg: []string{`pods "x" not found`},
		},
		{
			name:     "in no member that answered",
			clusters: fakeMembers{"member1": newPodMember("10"), "member2": statusMember(500, metav1.StatusReasonInternalError, "boom")},
			target:   "/api/v1/namespaces/shop/pods/x", wantCode: 404, wantMsg: []string{`pods "x" not found`}, wantWarn: []string{"member2", "boom"},
		},
		{
			name:     "every member forbidden",
			clusters: fakeMembers{"member1": statusMember(403, metav1.StatusReasonForbidden, `pods "x" is forbidden`), "member2": statusMember(403, metav1.StatusReasonForbidden, `pods "x" is forbidden`)},
			target:   "/api/v1/namespaces/shop/pods/x", wantCode: 403, wantMsg: []string{"forbidden"}, wantWarn: []string{"member2", "forbidden"},
		},
		{
			name:     "Table",
			clusters: fakeMembers{"member1": newPodMember("10"), "member2": newPodMember("20", "web-1")},
			target:   "/api/v1/namespaces/shop/pods/web-1", accept: tableAccept, wantCode: 200, wantFrom: "member2",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for c := range tc.clusters {
				names = append(names, c)
			}
			v := podsView(ready(names...), tc.clusters)
			rec := serve(t, v, http.MethodGet, tc.target, tc.accept)
			body := rec.Body.Bytes()
			if rec.Code != tc.wantCode {
				t.Fatalf("%d, want %d\n%s", rec.Code, tc.wantCode, body)
			}
			if w := warningTexts(t, rec.Header()); len(tc.wantWarn) > 0 && !hasWarning(w, tc.wantWarn...) || len(tc.wantWarn) == 0 && len(w) > 0 {
				t.Errorf("warnings %q, want %q", w, tc.wantWarn)
			}
			if tc.wantCode != 200 {
				var st metav1.Status
				if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" || int(st.Code) != tc.wantCode {
					t.Fatalf("not a Status: %v\n%s", err, body)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(st.Message, m) {
						t.Errorf("message %q lacks %q", st.Message, m)
					}
				}
				return
			}
			if tc.accept == tableAccept {
				var table metav1.Table
				if err := json.Unmarshal(body, &table); err != nil || table.Kind != "Table" {
					t.Fatalf("not a Table: %v\n%s", err, body)
				}
				if len(table.ColumnDefinitions) != 3 || table.ColumnDefinitions[0].Name != "Cluster" || len(table.Rows) != 1 || table.Rows[0].Cells[0] != tc.wantFrom || table.Rows[0].Cells[1] != "web-1" {
					t.Errorf("table %s", body)
				}
				var obj metav1.PartialObjectMetadata
				if err := json.Unmarshal(table.Rows[0].Object.Raw, &obj); err != nil || obj.Annotations[AnnotationCluster] != tc.wantFrom {
					t.Errorf("row object %s: %v", table.Rows[0].Object.Raw, err)
				}
				return
			}
			var pod corev1.Pod
			if err := json.Unmarshal(body, &pod); err != nil {
				t.Fatal(err)
			}
			if pod.Kind != "Pod" || pod.Name != "web-1" || pod.Annotations[AnnotationCluster] != tc.wantFrom || pod.Annotations["team"] != "shop" || pod.Spec.NodeName != "node-1" {
				t.Errorf("pod %s", body)
			}
		})
	}
}

// The 409 of a subresource names the object's path, not the subresource's.
func TestConflictNamesObjectPath(t *testing.T) {
	v := podsView(ready("member1", "member2"), fakeMembers{"member1": newPodMember("10", "web-1"), "member2": newPodMember("20", "web-1")})
	rec := serve(t, v, http.MethodPost, "/api/v1/namespaces/shop/pods/web-1/eviction", "application/json")
	var st metav1.Status
	if rec.Code != 409 || json.Unmarshal(rec.Body.Bytes(), &st) != nil || !strings.Contains(st.Message, "member1, member2") || !strings.HasSuffix(st.Message, "/clusters/<cluster>/api/v1/namespaces/shop/pods/web-1") {
		t.Errorf("%d\n%s", rec.Code, rec.Body)
	}
}

// A write by name reaches the owning member with what the view added taken out again.
func TestWriteByNameToOwner(t *testing.T) {
	m1, m2 := newPodMember("10"), newPodMember("20", "web-1")
	v := New(Config{Members: ready("member1", "member2"), Clusters: fakeMembers{"member1": m1, "member2": m2}, Owners: testOwners,
		Resources: []schema.GroupResource{{Resource: "pods"}}})
	pos := versions{"member1": "10", "member2": "20"}.encode()
	body := `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-1","namespace":"shop","resourceVersion":"` + pos + `","annotations":{"fleetgate.io/cluster":"member2","team":"shop"}},"spec":{"nodeName":"node-1"}}`
	r := httptest.NewRequest(http.MethodPut, "/api/v1/namespaces/shop/pods/web-1", strings.NewReader(body))
	rec := serveRequest(t, v, r)
	if rec.Code != 200 {
		t.Fatalf("%d\n%s", rec.Code, rec.Body)
	}
	writes := m2.recordedWrites()
	if len(writes) != 1 || len(m1.recordedWrites()) != 0 {
		t.Fatalf("writes: member1 %q, member2 %q", m1.recordedWrites(), writes)
	}
	_, got, _ := strings.Cut(writes[0], "/api/v1/namespaces/shop/pods/web-1 ")
	md := metadataOf(t, []byte(got))
	if md["resourceVersion"] != "20" || fmt.Sprint(md["annotations"]) != "map[team:shop]" {
		t.Errorf("member2 received %s", got)
	}
}

// An update by name goes to the host when it holds a template of that name.
func TestWriteByNameToTemplate(t *testing.T) {
	for _, tc := range []struct {
		hostCode int
		want     string
	}{{200, "host"}, {404, "member"}} {
		member := newPodMember("20", "web-1")
		var hostPaths []string
		var mu sync.Mutex
		host := hostFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			hostPaths = append(hostPaths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Accept"))
			mu.Unlock()
			rec := httptest.NewRecorder()
			rec.WriteHeader(tc.hostCode)
			return rec.Result(), nil
		})
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "host") })
		v := New(Config{Members: ready("member1"), Clusters: fakeMembers{"member1": member}, Host: host, Next: next,
			Resources: []schema.GroupResource{{Resource: "pods"}}})
		rec := serveRequest(t, v, httptest.NewRequest(http.MethodDelete, "/api/v1/namespaces/shop/pods/web-1", nil))
		got := "member"
		if rec.Body.String() == "host" {
			got = "host"
		}
		if got != tc.want || len(hostPaths) != 1 || !strings.HasPrefix(hostPaths[0], "GET /api/v1/namespaces/shop/pods/web-1 ") {
			t.Errorf("host answering %d: served by %s (want %s), host asked %q", tc.hostCode, got, tc.want, hostPaths)
		}
		if n := len(member.recordedWrites()); (tc.want == "member") != (n == 1) {
			t.Errorf("host answering %d: member got %d writes", tc.hostCode, n)
		}
	}
}

type hostFunc func(*http.Request) (*http.Response, error)

func (f hostFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// serveRequest serves r (with its RequestInfo) through v.
func serveRequest(t *testing.T, v *View, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	info, err := (&request.RequestInfoFactory{APIPrefixes: setOf("api", "apis"), GrouplessAPIPrefixes: setOf("api")}).NewRequestInfo(r)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	v.ServeHTTP(rec, r.WithContext(request.WithRequestInfo(r.Context(), info)))
	return rec
}
