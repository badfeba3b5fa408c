package memberview

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/request"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// streamMembers reaches each member at its own httptest.Server, so that answers stream (the
// ResponseRecorder of fakeMembers holds a whole answer).
type streamMembers map[string]*httptest.Server

func (s streamMembers) Do(cluster string, req *http.Request) (*http.Response, error) {
	srv, ok := s[cluster]
	if !ok {
		return nil, fmt.Errorf("no cluster %s", cluster)
	}
	u, _ := url.Parse(srv.URL)
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = u.Scheme, u.Host, ""
	return srv.Client().Do(out)
}

func (s streamMembers) Proxy(cluster string, w http.ResponseWriter, r *http.Request) {
	http.Error(w, "no proxying in this test", http.StatusNotImplemented)
}

// waitTimeout bounds every wait of the watch tests: a test that reaches it fails (it is no sleep).
const waitTimeout = 10 * time.Second

// watchMember is a member serving watches as kube-apiserver does: every request opens a stream
// (status line flushed at once) that the test writes events into, until the test hangs it up or the
// request ends. answer, when set, may answer a request with an error instead.
type watchMember struct {
	opens  chan *watchStream
	n      atomic.Int32 // requests received
	answer func(n int, q url.Values) http.Handler
}

type watchStream struct {
	query  url.Values
	events chan string   // watch events (JSON, one a line) to write
	hangUp chan struct{} // closed by the test: the stream ends
	ended  chan struct{} // closed once the request is over
}

func newWatchMember() *watchMember { return &watchMember{opens: make(chan *watchStream, 64)} }

func (m *watchMember) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(m.n.Add(1))
	if m.answer != nil {
		if h := m.answer(n, r.URL.Query()); h != nil {
			h.ServeHTTP(w, r)
			return
		}
	}
	s := &watchStream{query: r.URL.Query(), events: make(chan string, 64), hangUp: make(chan struct{}), ended: make(chan struct{})}
	defer close(s.ended)
	select { // before the status line: the gateway waits for that, so the request is not over yet
	case m.opens <- s:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.hangUp:
			return
		case e := <-s.events:
			io.WriteString(w, e+"\n")
			http.NewResponseController(w).Flush()
		}
	}
}

// next returns the next stream opened.
func (m *watchMember) next(t *testing.T) *watchStream {
	t.Helper()
	select {
	case s := <-m.opens:
		return s
	case <-time.After(waitTimeout):
		t.Fatal("no watch was opened")
		return nil
	}
}

func (s *watchStream) send(events ...string) {
	for _, e := range events {
		s.events <- e
	}
}

func (s *watchStream) waitEnded(t *testing.T) {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(waitTimeout):
		t.Fatal("the member's watch was not ended")
	}
}

// podEvent is a watch event of a pod as kube-apiserver sends it.
func podEvent(typ, name, rv string) string {
	return fmt.Sprintf(`{"type":%q,"object":{"kind":"Pod","apiVersion":"v1",%s}`, typ, strings.TrimPrefix(podJSON(name, rv), "{"))
}

// bookmarkEvent is a kube-apiserver bookmark; end marks the end of the initial events.
func bookmarkEvent(rv string, end bool) string {
	md := fmt.Sprintf(`{"resourceVersion":%q,"creationTimestamp":null}`, rv)
	if end {
		md = fmt.Sprintf(`{"resourceVersion":%q,"creationTimestamp":null,"annotations":{"k8s.io/initial-events-end":"true"}}`, rv)
	}
	return `{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":` + md + `,"spec":{"containers":null},"status":{}}}`
}

// errorEvent is a kube-apiserver watch ERROR event.
func errorEvent(code int, reason metav1.StatusReason, message string) string {
	b, _ := json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Message: message, Reason: reason, Code: int32(code)})
	return `{"type":"ERROR","object":` + string(b) + `}`
}

// watchSetup is a merged view of pods served over HTTP, with streaming members.
type watchSetup struct {
	members map[string]*watchMember
	gateway *httptest.Server
}

func newWatchSetup(t *testing.T, clusters func() []*clusterv1alpha1.Cluster, names ...string) *watchSetup {
	t.Helper()
	ws := &watchSetup{members: map[string]*watchMember{}}
	servers := streamMembers{}
	for _, n := range names {
		m := newWatchMember()
		srv := httptest.NewServer(m)
		t.Cleanup(srv.Close)
		ws.members[n], servers[n] = m, srv
	}
	if clusters == nil {
		clusters = ready(names...)
	}
	v := New(Config{Members: clusters, Clusters: servers, Resources: []schema.GroupResource{{Resource: "pods"}}})
	factory := &request.RequestInfoFactory{APIPrefixes: setOf("api", "apis"), GrouplessAPIPrefixes: setOf("api")}
	ws.gateway = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := factory.NewRequestInfo(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		v.ServeHTTP(w, r.WithContext(request.WithRequestInfo(r.Context(), info)))
	}))
	t.Cleanup(ws.gateway.Close)
	return ws
}

type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// watchClient reads a merged watch.
type watchClient struct {
	resp   *http.Response
	cancel context.CancelFunc
	events chan watchEvent // closed at the end of the stream
}

// watch opens a merged watch; it fails the test unless the answer is 200.
func (ws *watchSetup) watch(t *testing.T, query string, accept string) *watchClient {
	t.Helper()
	resp, cancel := ws.request(t, query, accept)
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("watch ?%s: %d\n%s", query, resp.StatusCode, b)
	}
	c := &watchClient{resp: resp, cancel: cancel, events: make(chan watchEvent, 64)}
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e watchEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = watchEvent{Type: "UNDECODABLE: " + err.Error() + ": " + sc.Text()}
			}
			c.events <- e
		}
	}()
	return c
}

func (ws *watchSetup) request(t *testing.T, query string, accept string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ws.gateway.URL+"/api/v1/namespaces/shop/pods?"+query, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := ws.gateway.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return resp, cancel
}

func (c *watchClient) next(t *testing.T) watchEvent {
	t.Helper()
	select {
	case e, ok := <-c.events:
		if !ok {
			t.Fatal("the merged watch ended")
		}
		return e
	case <-time.After(waitTimeout):
		t.Fatal("no merged watch event")
	}
	return watchEvent{}
}

// ended waits for the merged stream to end.
func (c *watchClient) ended(t *testing.T) {
	t.Helper()
	select {
	case e, ok := <-c.events:
		if ok {
			t.Fatalf("event %s %s after the end", e.Type, e.Object)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the merged watch did not end")
	}
}

// eventObject is what the tests read of a merged event's object.
type eventObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name            string            `json:"name"`
		ResourceVersion string            `json:"resourceVersion"`
		Annotations     map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
}

func decodeObject(t *testing.T, e watchEvent) eventObject {
	t.Helper()
	var o eventObject
	if err := json.Unmarshal(e.Object, &o); err != nil {
		t.Fatalf("event %s: %v\n%s", e.Type, err, e.Object)
	}
	return o
}

// position decodes a merged resourceVersion for comparison (fmt prints maps sorted).
func position(t *testing.T, rv string) string {
	t.Helper()
	v, composite, err := decodeVersions(rv)
	if err != nil || !composite {
		t.Fatalf("resourceVersion %q is not composite: %v", rv, err)
	}
	return fmt.Sprint(v)
}

// expectEvent reads the next merged event and checks it.
func (c *watchClient) expectEvent(t *testing.T, typ, cluster, name, pos string) {
	t.Helper()
	e := c.next(t)
	o := decodeObject(t, e)
	if e.Type != typ || o.Metadata.Name != name || o.Metadata.Annotations[AnnotationCluster] != cluster {
		t.Fatalf("event %s %s, want %s of %s/%s", e.Type, e.Object, typ, cluster, name)
	}
	if o.Kind != "Pod" || o.Spec.NodeName != "node-1" || o.Metadata.Annotations["team"] != "shop" {
		t.Errorf("event object lost fields: %s", e.Object)
	}
	if got := position(t, o.Metadata.ResourceVersion); got != pos {
		t.Errorf("%s %s/%s: position %s, want %s", typ, cluster, name, got, pos)
	}
}

// expectBookmark reads the next merged event, a bookmark at pos (with the initial-events-end
// annotation when end).
func (c *watchClient) expectBookmark(t *testing.T, pos string, end bool) {
	t.Helper()
	e := c.next(t)
	o := decodeObject(t, e)
	if e.Type != "BOOKMARK" {
		t.Fatalf("event %s %s, want a BOOKMARK", e.Type, e.Object)
	}
	if got := position(t, o.Metadata.ResourceVersion); got != pos {
		t.Errorf("bookmark at %s, want %s", got, pos)
	}
	if got := o.Metadata.Annotations[metav1.InitialEventsAnnotationKey] == "true"; got != end {
		t.Errorf("bookmark %s: initial-events-end %v, want %v", e.Object, got, end)
	}
	if _, ok := o.Metadata.Annotations[AnnotationCluster]; ok {
		t.Errorf("bookmark %s names a cluster", e.Object)
	}
	if o.Kind != "Pod" {
		t.Errorf("bookmark kind %q", o.Kind)
	}
}

func TestWatchMerged(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b")
	c := ws.watch(t, "watch=true&labelSelector=app%3Dweb", "")
	sa, sb := ws.members["a"].next(t), ws.members["b"].next(t)
	for _, s := range []*watchStream{sa, sb} {
		if got := s.query.Encode(); got != "labelSelector=app%3Dweb&watch=true" {
			t.Errorf("member watched with %s", got)
		}
	}
	steps := []struct {
		s                  *watchStream
		typ, cluster, name string
		rv, pos            string
	}{
		{sa, "ADDED", "a", "web-1", "10", "map[a:10]"},
		{sb, "ADDED", "b", "api-1", "20", "map[a:10 b:20]"},
		{sa, "MODIFIED", "a", "web-1", "11", "map[a:11 b:20]"},
		{sa, "ADDED", "a", "web-2", "12", "map[a:12 b:20]"},
		{sb, "DELETED", "b", "api-1", "25", "map[a:12 b:25]"},
		{sb, "ADDED", "b", "api-2", "26", "map[a:12 b:26]"},
	}
	for _, st := range steps {
		st.s.send(podEvent(st.typ, st.name, st.rv))
		c.expectEvent(t, st.typ, st.cluster, st.name, st.pos)
	}
	// The client goes away: so do the member watches.
	c.cancel()
	sa.waitEnded(t)
	sb.waitEnded(t)
}

func TestWatchManyEventsAtOnce(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b")
	c := ws.watch(t, "watch=true", "")
	sa, sb := ws.members["a"].next(t), ws.members["b"].next(t)
	const n = 50
	for i := range n {
		sa.send(podEvent("ADDED", fmt.Sprintf("a-%02d", i), fmt.Sprint(100+i)))
		sb.send(podEvent("ADDED", fmt.Sprintf("b-%02d", i), fmt.Sprint(500+i)))
	}
	seen := map[string]bool{}
	last := map[string]int{"a": -1, "b": -1}
	for range 2 * n {
		e := c.next(t)
		o := decodeObject(t, e)
		cl := o.Metadata.Annotations[AnnotationCluster]
		seen[cl+"/"+o.Metadata.Name] = true
		var i int
		fmt.Sscanf(o.Metadata.Name[2:], "%d", &i)
		if i != last[cl]+1 {
			t.Errorf("%s: event %s after %d: out of order", cl, o.Metadata.Name, last[cl])
		}
		last[cl] = i
		v, _, _ := decodeVersions(o.Metadata.ResourceVersion)
		if v[cl] != fmt.Sprint(map[string]int{"a": 100, "b": 500}[cl]+i) {
			t.Errorf("%s/%s at %v", cl, o.Metadata.Name, v)
		}
	}
	if len(seen) != 2*n {
		t.Errorf("%d distinct events, want %d", len(seen), 2*n)
	}
}

func TestWatchFromComposite(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b", "c")
	from := versions{"a": "10", "b": "20"}.encode()
	c := ws.watch(t, "watch=true&allowWatchBookmarks=true&resourceVersion="+url.QueryEscape(from), "")
	sa, sb, sc := ws.members["a"].next(t), ws.members["b"].next(t), ws.members["c"].next(t)
	for _, tc := range []struct {
		s    *watchStream
		want string
	}{
		{sa, "allowWatchBookmarks=true&resourceVersion=10&watch=true"},
		{sb, "allowWatchBookmarks=true&resourceVersion=20&watch=true"},
		{sc, "allowWatchBookmarks=true&watch=true"}, // a member the position does not know
	} {
		if got := tc.s.query.Encode(); got != tc.want {
			t.Errorf("member watched with %s, want %s", got, tc.want)
		}
	}
	sc.send(podEvent("ADDED", "db-1", "5"))
	c.expectEvent(t, "ADDED", "c", "db-1", "map[a:10 b:20 c:5]")
	sb.send(podEvent("MODIFIED", "api-1", "21"))
	c.expectEvent(t, "MODIFIED", "b", "api-1", "map[a:10 b:21 c:5]")
	sa.send(bookmarkEvent("15", false))
	c.expectBookmark(t, "map[a:15 b:21 c:5]", false)
}

func TestWatchFromMemberResourceVersion(t *testing.T) {
	ws := newWatchSetup(t, nil, "a")
	for _, tc := range []struct {
		rv   string
		want int
	}{{"123", http.StatusGone}, {"fg1.***", http.StatusBadRequest}} {
		resp, _ := ws.request(t, "watch=true&resourceVersion="+url.QueryEscape(tc.rv), "")
		var st metav1.Status
		if err := json.NewDecoder(resp.Body).Decode(&st); resp.StatusCode != tc.want || err != nil || int(st.Code) != tc.want {
			t.Errorf("watch from %q: %d (%v), want %d", tc.rv, resp.StatusCode, err, tc.want)
		}
	}
	if n := ws.members["a"].n.Load(); n != 0 {
		t.Errorf("the member was asked %d times", n)
	}
}

func TestWatchBookmarks(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b")
	c := ws.watch(t, "watch=true&allowWatchBookmarks=true", "")
	sa, sb := ws.members["a"].next(t), ws.members["b"].next(t)
	sa.send(podEvent("ADDED", "web-1", "10"))
	c.expectEvent(t, "ADDED", "a", "web-1", "map[a:10]")
	sb.send(bookmarkEvent("30", false))
	c.expectBookmark(t, "map[a:10 b:30]", false)
	sa.send(bookmarkEvent("14", false))
	c.expectBookmark(t, "map[a:14 b:30]", false)
	sb.send(podEvent("ADDED", "api-1", "31"))
	c.expectEvent(t, "ADDED", "b", "api-1", "map[a:14 b:31]")
}

func TestWatchInitialEvents(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b")
	// As client-go's watch-list asks.
	c := ws.watch(t, "watch=true&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=", "")
	sa, sb := ws.members["a"].next(t), ws.members["b"].next(t)
	for _, s := range []*watchStream{sa, sb} {
		if got := s.query.Encode(); got != "allowWatchBookmarks=true&resourceVersion=&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&watch=true" {
			t.Errorf("member watched with %s", got)
		}
	}
	// a's initial events end; b's have not: no bookmark yet (a's next event comes first).
	sa.send(podEvent("ADDED", "web-1", "10"), bookmarkEvent("12", true), podEvent("ADDED", "web-2", "13"))
	c.expectEvent(t, "ADDED", "a", "web-1", "map[a:10]")
	c.expectEvent(t, "ADDED", "a", "web-2", "map[a:13]")
	// A bookmark of b's before its initial events end is no end either.
	sb.send(podEvent("ADDED", "api-1", "20"), bookmarkEvent("21", false), podEvent("ADDED", "api-2", "22"))
	c.expectEvent(t, "ADDED", "b", "api-1", "map[a:13 b:20]")
	c.expectEvent(t, "ADDED", "b", "api-2", "map[a:13 b:22]")
	sb.send(bookmarkEvent("25", true))
	c.expectBookmark(t, "map[a:13 b:25]", true)
	// After the end, bookmarks are passed on as such.
	sa.send(bookmarkEvent("40", false))
	c.expectBookmark(t, "map[a:40 b:25]", false)
	sb.send(podEvent("MODIFIED", "api-1", "26"))
	c.expectEvent(t, "MODIFIED", "b", "api-1", "map[a:40 b:26]")
}

func TestWatchReopensEndedMemberStream(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b")
	c := ws.watch(t, "watch=true&allowWatchBookmarks=true&labelSelector=app%3Dweb&timeoutSeconds=300", "")
	sa, sb := ws.members["a"].next(t), ws.members["b"].next(t)
	if got := sa.query.Encode(); got != "allowWatchBookmarks=true&labelSelector=app%3Dweb&watch=true" {
		t.Errorf("member watched with %s (the merged watch keeps the timeout)", got)
	}
	sa.send(podEvent("ADDED", "web-1", "10"))
	c.expectEvent(t, "ADDED", "a", "web-1", "map[a:10]")
	sa.send(bookmarkEvent("17", false))
	c.expectBookmark(t, "map[a:17]", false)
	close(sa.hangUp) // kube-apiserver ends watches now and then
	sa.waitEnded(t)
	again := ws.members["a"].next(t)
	if got := again.query.Encode(); got != "allowWatchBookmarks=true&labelSelector=app%3Dweb&resourceVersion=17&watch=true" {
		t.Errorf("member watched again with %s, want its last resourceVersion 17", got)
	}
	again.send(podEvent("MODIFIED", "web-1", "18"))
	c.expectEvent(t, "MODIFIED", "a", "web-1", "map[a:18]")
	// A member ERROR other than 410 is a break too: watched again from where it was.
	again.send(errorEvent(500, metav1.StatusReasonInternalError, "etcdserver: leader changed"))
	third := ws.members["a"].next(t)
	if got := third.query.Get("resourceVersion"); got != "18" {
		t.Errorf("member watched again from %q, want 18", got)
	}
	sb.send(podEvent("ADDED", "api-1", "30"))
	c.expectEvent(t, "ADDED", "b", "api-1", "map[a:18 b:30]")
	third.send(podEvent("DELETED", "web-1", "19"))
	c.expectEvent(t, "DELETED", "a", "web-1", "map[a:19 b:30]")
}

func TestWatchReopenAfterFailedOpen(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b")
	ws.members["b"].answer = func(n int, q url.Values) http.Handler {
		if n == 1 {
			return statusMember(503, metav1.StatusReasonServiceUnavailable, "the server is currently unable to handle the request")
		}
		return nil
	}
	from := versions{"a": "10", "b": "20"}.encode()
	c := ws.watch(t, "watch=true&resourceVersion="+url.QueryEscape(from), "")
	if w := warningTexts(t, c.resp.Header); !hasWarning(w, "b", "unable to handle", "watched again") {
		t.Errorf("warnings %q", w)
	}
	sa := ws.members["a"].next(t)
	sb := ws.members["b"].next(t) // the second try
	if got := sb.query.Get("resourceVersion"); got != "20" {
		t.Errorf("b watched again from %q, want 20", got)
	}
	sb.send(podEvent("ADDED", "api-1", "21"))
	c.expectEvent(t, "ADDED", "b", "api-1", "map[a:10 b:21]")
	sa.send(podEvent("ADDED", "web-1", "11"))
	c.expectEvent(t, "ADDED", "a", "web-1", "map[a:11 b:21]")
}

func TestWatchExpired(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b")
	c := ws.watch(t, "watch=true&resourceVersion="+url.QueryEscape(versions{"a": "10", "b": "20"}.encode()), "")
	sa, sb := ws.members["a"].next(t), ws.members["b"].next(t)
	sa.send(podEvent("ADDED", "web-1", "11"))
	c.expectEvent(t, "ADDED", "a", "web-1", "map[a:11 b:20]")
	sb.send(errorEvent(410, metav1.StatusReasonExpired, "too old resource version: 20 (150)"))
	e := c.next(t)
	var st metav1.Status
	if err := json.Unmarshal(e.Object, &st); e.Type != "ERROR" || err != nil || st.Code != 410 || st.Reason != metav1.StatusReasonExpired || !strings.Contains(st.Message, "too old resource version") {
		t.Errorf("event %s %s, want ERROR 410", e.Type, e.Object)
	}
	c.ended(t)
	sa.waitEnded(t)
	sb.waitEnded(t)
}

func TestWatchExpiredAtOpen(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b")
	ws.members["b"].answer = func(int, url.Values) http.Handler {
		return statusMember(410, metav1.StatusReasonExpired, "too old resource version: 20 (150)")
	}
	resp, _ := ws.request(t, "watch=true&resourceVersion="+url.QueryEscape(versions{"a": "10", "b": "20"}.encode()), "")
	var st metav1.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); resp.StatusCode != 410 || err != nil || st.Code != 410 {
		t.Errorf("%d %+v %v, want 410", resp.StatusCode, st, err)
	}
	// a's watch, opened alongside, is ended.
	ws.members["a"].next(t).waitEnded(t)
}

func TestWatchEveryMemberFails(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b")
	for _, m := range ws.members {
		m.answer = func(int, url.Values) http.Handler {
			return statusMember(403, metav1.StatusReasonForbidden, `pods is forbidden: User "alice" cannot watch resource "pods"`)
		}
	}
	resp, _ := ws.request(t, "watch=true", "")
	var st metav1.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); resp.StatusCode != 403 || err != nil || st.Code != 403 {
		t.Errorf("%d %+v %v, want 403", resp.StatusCode, st, err)
	}
}

// A member not Ready when the watch starts is tried in the background: once it answers, its
// objects come.
func TestWatchNotReadyMember(t *testing.T) {
	ws := newWatchSetup(t, withNotReady(ready("a"), "b"), "a", "b")
	from := versions{"a": "10"}.encode()
	c := ws.watch(t, "watch=true&allowWatchBookmarks=true&resourceVersion="+url.QueryEscape(from), "")
	if w := warningTexts(t, c.resp.Header); !hasWarning(w, "b", "not ready") {
		t.Errorf("warnings %q", w)
	}
	ws.members["a"].next(t).send(podEvent("ADDED", "web-1", "11"))
	c.expectEvent(t, "ADDED", "a", "web-1", "map[a:11]")
	sb := ws.members["b"].next(t)
	if got := sb.query.Encode(); got != "allowWatchBookmarks=true&watch=true" {
		t.Errorf("b watched with %s, want no resourceVersion (the position does not know it)", got)
	}
	sb.send(podEvent("ADDED", "api-1", "30"))
	c.expectEvent(t, "ADDED", "b", "api-1", "map[a:11 b:30]")
}

func TestWatchTable(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b")
	c := ws.watch(t, "watch=true", tableAccept)
	sa := ws.members["a"].next(t)
	ws.members["b"].next(t)
	table := `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"10"},"columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"","priority":0}],"rows":[{"cells":["web-1"],"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"web-1","namespace":"shop","resourceVersion":"10"}}}]}`
	sa.send(`{"type":"ADDED","object":` + table + `}`)
	e := c.next(t)
	var got metav1.Table
	if err := json.Unmarshal(e.Object, &got); err != nil || e.Type != "ADDED" || got.Kind != "Table" {
		t.Fatalf("event %s %s: %v", e.Type, e.Object, err)
	}
	if len(got.ColumnDefinitions) != 2 || got.ColumnDefinitions[0].Name != "Cluster" || len(got.Rows) != 1 || got.Rows[0].Cells[0] != "a" {
		t.Errorf("table %s", e.Object)
	}
	if pos := position(t, got.ResourceVersion); pos != "map[a:10]" {
		t.Errorf("table at %s", pos)
	}
}

func TestWatchTimeoutSeconds(t *testing.T) {
	ws := newWatchSetup(t, nil, "a")
	c := ws.watch(t, "watch=true&timeoutSeconds=1", "")
	s := ws.members["a"].next(t)
	if s.query.Has("timeoutSeconds") {
		t.Errorf("member watched with %s", s.query.Encode())
	}
	s.send(podEvent("ADDED", "web-1", "10"))
	c.expectEvent(t, "ADDED", "a", "web-1", "map[a:10]")
	c.ended(t) // after a second
	s.waitEnded(t)
}
