package memberview

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pagingMember is an in-memory member that lists pods as kube-apiserver does: limit and continue
// (its continue token is the offset), resourceVersionMatch=Exact at any resourceVersion it still
// has, and the validation kube-apiserver applies to those parameters. It records every query.
type pagingMember struct {
	mu       sync.Mutex
	rv       int              // current resourceVersion
	history  map[int][]string // pod names at each resourceVersion it keeps
	pagingRV int              // the snapshot its continue tokens go on in
	queries  []url.Values
	// expireContinue answers every continue with 410, as kube-apiserver does once the token's
	// snapshot is compacted.
	expireContinue bool
	// failExact answers reads at an exact resourceVersion with this status (0: serve them).
	failExact int
}

func newPagingMember(prefix string, n, rv int) *pagingMember {
	m := &pagingMember{rv: rv, history: map[int][]string{}}
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("%s-%02d", prefix, i))
	}
	m.history[rv] = names
	return m
}

// add creates a pod: a new resourceVersion.
func (m *pagingMember) add(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := append(slices.Clone(m.history[m.rv]), name)
	m.rv += 3
	m.history[m.rv] = names
}

// compact forgets every resourceVersion but the current one.
func (m *pagingMember) compact() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for rv := range m.history {
		if rv != m.rv {
			delete(m.history, rv)
		}
	}
}

// set changes the member (under its lock).
func (m *pagingMember) set(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

func (m *pagingMember) recorded() []url.Values {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.queries)
}

func (m *pagingMember) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := r.URL.Query()
	m.queries = append(m.queries, q)
	fail := func(code int, reason metav1.StatusReason, msg string) {
		statusMember(code, reason, msg).ServeHTTP(w, r)
	}
	rvParam, match, cont := q.Get("resourceVersion"), q.Get("resourceVersionMatch"), q.Get("continue")
	limit, _ := strconv.Atoi(q.Get("limit"))
	at, offset := m.rv, 0
	switch {
	case cont != "" && rvParam != "":
		fail(400, metav1.StatusReasonBadRequest, "specifying resource version is not allowed when using continue")
		return
	case match != "" && rvParam == "":
		fail(400, metav1.StatusReasonBadRequest, "resourceVersionMatch is forbidden unless resourceVersion is provided")
		return
	case cont != "":
		if m.expireContinue {
			fail(410, metav1.StatusReasonExpired, "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
			return
		}
		o, err := strconv.Atoi(cont)
		if err != nil {
			fail(400, metav1.StatusReasonBadRequest, "continue key is not valid: "+cont)
			return
		}
		at, offset = m.pagingRV, o
	case match == string(metav1.ResourceVersionMatchExact):
		want, _ := strconv.Atoi(rvParam)
		if m.failExact != 0 {
			fail(m.failExact, metav1.StatusReasonInternalError, "exact read failed")
			return
		}
		if _, ok := m.history[want]; !ok {
			fail(410, metav1.StatusReasonExpired, fmt.Sprintf("The resourceVersion for the provided list is too old: %d", want))
			return
		}
		at = want
	}
	names := m.history[at]
	if _, ok := m.history[at]; !ok {
		fail(410, metav1.StatusReasonExpired, "too old")
		return
	}
	end, next := len(names), ""
	if limit > 0 && offset+limit < len(names) {
		end, next = offset+limit, strconv.Itoa(offset+limit)
	}
	if limit > 0 && cont == "" {
		m.pagingRV = at
	}
	var items []string
	for _, n := range names[min(offset, len(names)):end] {
		items = append(items, podJSON(n, strconv.Itoa(at)))
	}
	meta := map[string]any{"resourceVersion": strconv.Itoa(at)}
	if next != "" {
		meta["continue"] = next
		meta["remainingItemCount"] = len(names) - end
	}
	mb, _ := json.Marshal(meta)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"kind":"PodList","apiVersion":"v1","metadata":%s,"items":[%s]}`+"\n", mb, strings.Join(items, ","))
}

// pageThrough lists pods through v with limit, following continue until it is empty; it returns
// the pages.
func pageThrough(t *testing.T, v *View, limit int, between func()) []*corev1.PodList {
	t.Helper()
	var pages []*corev1.PodList
	cont := ""
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("more than 100 pages")
		}
		q := url.Values{"limit": {strconv.Itoa(limit)}}
		if cont != "" {
			q.Set("continue", cont)
		}
		rec := serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods?"+q.Encode(), "application/json")
		if rec.Code != 200 {
			t.Fatalf("page %d: %d\n%s", i, rec.Code, rec.Body)
		}
		if w := rec.Header().Values("Warning"); len(w) > 0 {
			t.Errorf("page %d: warnings %q", i, w)
		}
		list, _ := mergedPods(t, rec.Body.Bytes())
		pages = append(pages, list)
		if between != nil {
			between()
		}
		if cont = list.Continue; cont == "" {
			return pages
		}
	}
}

func TestPaging(t *testing.T) {
	for _, tc := range []struct {
		sizes []int
		limit int
	}{
		{[]int{25, 25}, 7},
		{[]int{25, 25}, 5},
		{[]int{25, 25}, 25},
		{[]int{25, 25}, 50},
		{[]int{3, 0, 10}, 7},
		{[]int{7, 7}, 7},
		{[]int{2, 3}, 7},
		{[]int{3, 5}, 7}, // the second member's whole list does not fit by one
		{[]int{3, 4, 1}, 7},
		{[]int{0, 0}, 7},
		{[]int{0, 9, 1, 4}, 4},
		{[]int{30}, 7},
	} {
		t.Run(fmt.Sprintf("%v by %d", tc.sizes, tc.limit), func(t *testing.T) {
			members := map[string]*pagingMember{}
			clusters := fakeMembers{}
			var names, all []string
			for i, n := range tc.sizes {
				c := fmt.Sprintf("member%d", i+1)
				names = append(names, c)
				members[c] = newPagingMember(c, n, 100*(i+1))
				clusters[c] = members[c]
				for _, p := range members[c].history[100*(i+1)] {
					all = append(all, c+"/"+p)
				}
			}
			firstRV := map[string]string{}
			for c, m := range members {
				firstRV[c] = strconv.Itoa(m.rv)
			}
			v := podsView(ready(names...), clusters)
			// Every member changes after each page: the pages stay one snapshot.
			n := 0
			changed := func() {
				n++
				for c, m := range members {
					m.add(fmt.Sprintf("%s-new-%d", c, n))
				}
			}
			pages := pageThrough(t, v, tc.limit, changed)

			var got []string
			for i, p := range pages {
				if len(p.Items) > tc.limit {
					t.Errorf("page %d: %d items, limit %d", i, len(p.Items), tc.limit)
				}
				if p.ResourceVersion != pages[0].ResourceVersion {
					t.Errorf("page %d: resourceVersion %q, first page's %q", i, p.ResourceVersion, pages[0].ResourceVersion)
				}
				for _, item := range p.Items {
					got = append(got, item.Annotations[AnnotationCluster]+"/"+item.Name)
				}
			}
			if !slices.Equal(got, all) {
				t.Errorf("items over %d pages:\n got %v\nwant %v", len(pages), got, all)
			}
			pos, composite, err := decodeVersions(pages[0].ResourceVersion)
			if err != nil || !composite || fmt.Sprint(pos) != fmt.Sprint(firstRV) {
				t.Errorf("resourceVersion %q = %v, %v, %v; want %v", pages[0].ResourceVersion, pos, composite, err, firstRV)
			}
			total := 0
			for _, n := range tc.sizes {
				total += n
			}
			if want := max(1, (total+tc.limit-1)/tc.limit); len(pages) < want {
				t.Errorf("%d pages for %d items by %d", len(pages), total, tc.limit)
			}

			// What each member was asked: the first page's fan-out, then, for every member not
			// shown whole on the first page, an exact read at its first-page resourceVersion
			// followed by its own continue tokens.
			for i, c := range names {
				qs := members[c].recorded()
				if len(qs) == 0 {
					t.Errorf("%s: never asked", c)
					continue
				}
				if got := qs[0].Encode(); got != "limit="+strconv.Itoa(tc.limit) {
					t.Errorf("%s: first query %s", c, got)
				}
				for j, q := range qs[1:] {
					if q.Get("limit") != strconv.Itoa(tc.limit) {
						t.Errorf("%s: query %d without the limit: %s", c, j+1, q.Encode())
					}
					switch {
					case q.Get("continue") != "":
						if q.Has("resourceVersion") || q.Has("resourceVersionMatch") {
							t.Errorf("%s: continue with a resourceVersion: %s", c, q.Encode())
						}
					case i == 0:
						t.Errorf("%s: the first member listed from the start again: %s", c, q.Encode())
					case j != 0:
						t.Errorf("%s: listed from the start more than once: %s", c, q.Encode())
					default:
						if q.Get("resourceVersion") != firstRV[c] || q.Get("resourceVersionMatch") != "Exact" {
							t.Errorf("%s: listed again with %s, want resourceVersion=%s&resourceVersionMatch=Exact", c, q.Encode(), firstRV[c])
						}
					}
				}
			}
		})
	}
}

// The member queries of TestPaging's main case, spelled out.
func TestPagingMemberQueries(t *testing.T) {
	a, b := newPagingMember("a", 25, 100), newPagingMember("b", 25, 200)
	v := podsView(ready("b", "a"), fakeMembers{"a": a, "b": b})
	pages := pageThrough(t, v, 7, func() { a.add("a-later"); b.add("b-later") })
	var sizes []int
	for _, p := range pages {
		sizes = append(sizes, len(p.Items))
	}
	if fmt.Sprint(sizes) != "[7 7 7 4 7 7 7 4]" {
		t.Errorf("page sizes %v", sizes)
	}
	enc := func(qs []url.Values) []string {
		var out []string
		for _, q := range qs {
			out = append(out, q.Encode())
		}
		return out
	}
	if got, want := enc(a.recorded()), []string{"limit=7", "continue=7&limit=7", "continue=14&limit=7", "continue=21&limit=7"}; !slices.Equal(got, want) {
		t.Errorf("a was asked %q, want %q", got, want)
	}
	if got, want := enc(b.recorded()), []string{"limit=7", "limit=7&resourceVersion=200&resourceVersionMatch=Exact", "continue=7&limit=7", "continue=14&limit=7", "continue=21&limit=7"}; !slices.Equal(got, want) {
		t.Errorf("b was asked %q, want %q", got, want)
	}
}

func TestPagingFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    func(a, b *pagingMember) // after the first page
		wantCode int
		wantWarn []string
		bTurn    bool // the failure is at the second member's turn
	}{
		{name: "the first member's continue expired", setup: func(a, b *pagingMember) { a.set(func() { a.expireContinue = true }) }, wantCode: 410},
		{name: "the second member's snapshot compacted", setup: func(a, b *pagingMember) { b.add("b-later"); b.compact() }, wantCode: 410, bTurn: true},
		{name: "the second member's exact read fails", setup: func(a, b *pagingMember) { b.set(func() { b.failExact = 500 }) }, wantCode: 200, wantWarn: []string{"member2", "exact read failed"}, bTurn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newPagingMember("a", 5, 100), newPagingMember("b", 5, 200)
			v := podsView(ready("member1", "member2"), fakeMembers{"member1": a, "member2": b})
			rec := serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods?limit=3", "application/json")
			list, _ := mergedPods(t, rec.Body.Bytes())
			if rec.Code != 200 || list.Continue == "" {
				t.Fatalf("first page: %d, continue %q", rec.Code, list.Continue)
			}
			cont := list.Continue
			if tc.bTurn {
				// Go on to b's turn first.
				rec = serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods?limit=3&continue="+url.QueryEscape(cont), "application/json")
				list, _ = mergedPods(t, rec.Body.Bytes())
				cont = list.Continue
				if rec.Code != 200 || len(list.Items) != 2 || cont == "" {
					t.Fatalf("second page: %d, %d items, continue %q", rec.Code, len(list.Items), cont)
				}
			}
			tc.setup(a, b)
			rec = serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods?limit=3&continue="+url.QueryEscape(cont), "application/json")
			if rec.Code != tc.wantCode {
				t.Fatalf("%d, want %d\n%s", rec.Code, tc.wantCode, rec.Body)
			}
			if tc.wantCode == 410 {
				var st metav1.Status
				if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Code != 410 || st.Reason != metav1.StatusReasonExpired {
					t.Errorf("not the member's 410: %v\n%s", err, rec.Body)
				}
				return
			}
			if w := warningTexts(t, rec.Header()); !hasWarning(w, tc.wantWarn...) {
				t.Errorf("warnings %q, want one with %q", w, tc.wantWarn)
			}
			// The member left out, the list ends (nothing else pending).
			if list, _ = mergedPods(t, rec.Body.Bytes()); len(list.Items) != 0 || list.Continue != "" || list.ResourceVersion == "" {
				t.Errorf("last page: %d items, continue %q, resourceVersion %q", len(list.Items), list.Continue, list.ResourceVersion)
			}
		})
	}
}

func TestPagingBadContinue(t *testing.T) {
	a := newPagingMember("a", 5, 100)
	v := podsView(ready("member1"), fakeMembers{"member1": a})
	for _, cont := range []string{
		"garbage",
		"3", // the member's own token
		"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTAsInN0YXJ0IjoicDcifQ", // kube-apiserver's
		"fg1.***",
		versions{"member1": "100"}.encode(), // a resourceVersion, not a token
		cursor{Versions: versions{"member1": "100"}}.encode(), // nothing pending
	} {
		rec := serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods?limit=3&continue="+url.QueryEscape(cont), "application/json")
		var st metav1.Status
		if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &st) != nil || st.Reason != metav1.StatusReasonBadRequest || !strings.Contains(st.Message, "continue token") {
			t.Errorf("continue=%s: %d, want 400 naming the continue token\n%s", cont, rec.Code, rec.Body)
		}
	}
	if qs := a.recorded(); len(qs) != 0 {
		t.Errorf("bad tokens reached the member: %v", qs)
	}
}

// A continue token names members; only those in the request's scope are listed.
func TestPagingContinueOutOfScope(t *testing.T) {
	a, secret := newPagingMember("a", 5, 100), newPagingMember("secret", 5, 100)
	v := podsView(ready("member1"), fakeMembers{"member1": a, "secret": secret})
	cont := cursor{Versions: versions{"member1": "100", "secret": "100"}, Pending: []memberToken{{Cluster: "secret"}, {Cluster: "member1"}}}.encode()
	rec := serve(t, v, http.MethodGet, "/api/v1/namespaces/shop/pods?limit=10&continue="+url.QueryEscape(cont), "application/json")
	if rec.Code != 200 {
		t.Fatalf("%d\n%s", rec.Code, rec.Body)
	}
	if qs := secret.recorded(); len(qs) != 0 {
		t.Errorf("a cluster out of scope was asked: %v", qs)
	}
	_, items := mergedPods(t, rec.Body.Bytes())
	if len(items) != 5 || !strings.HasPrefix(items[0], "member1/") {
		t.Errorf("items %v", items)
	}
	if w := warningTexts(t, rec.Header()); !hasWarning(w, "secret", "not ready") {
		t.Errorf("warnings %q", w)
	}
}
