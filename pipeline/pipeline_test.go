package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/propagate/names"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/request"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	workv1alpha2 "github.com/fleetgate/fleetgate/apis/work/v1alpha2"
	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/reconcile"
)

func TestHandles(t *testing.T) {
	ri := func(verb, group, resource, ns, name, sub string) *request.RequestInfo {
		return &request.RequestInfo{IsResourceRequest: true, Verb: verb, APIGroup: group, APIVersion: "v1", Resource: resource, Namespace: ns, Name: name, Subresource: sub}
	}
	tests := []struct {
		name string
		info *request.RequestInfo
		want bool
	}{
		{"create deployment", ri("create", "apps", "deployments", "default", "", ""), true},
		{"patch configmap", ri("patch", "", "configmaps", "default", "x", ""), true},
		{"update cluster-scoped", ri("update", "rbac.authorization.k8s.io", "clusterroles", "", "x", ""), true},
		{"create policy", ri("create", "policy.karmada.io", "propagationpolicies", "default", "", ""), true},
		{"get", ri("get", "apps", "deployments", "default", "x", ""), false},
		{"delete", ri("delete", "apps", "deployments", "default", "x", ""), false},
		{"scale subresource", ri("patch", "apps", "deployments", "default", "x", "scale"), false},
		{"status subresource", ri("update", "apps", "deployments", "default", "x", "status"), false},
		{"namespace", ri("create", "", "namespaces", "", "", ""), false},
		{"event", ri("create", "", "events", "default", "", ""), false},
		{"lease", ri("update", "coordination.k8s.io", "leases", "default", "x", ""), false},
		{"csr", ri("create", "certificates.k8s.io", "certificatesigningrequests", "", "", ""), false},
		{"cluster", ri("create", "cluster.karmada.io", "clusters", "", "", ""), false},
		{"binding", ri("update", "work.karmada.io", "resourcebindings", "default", "x", ""), false},
		{"kube-system", ri("create", "", "configmaps", "kube-system", "", ""), false},
		{"fleetgate-system", ri("create", "", "secrets", "fleetgate-system", "", ""), false},
		{"token review", ri("create", "authentication.k8s.io", "tokenreviews", "", "", ""), false},
		{"non-resource", &request.RequestInfo{IsResourceRequest: false, Verb: "post"}, false},
		{"patch without a name", ri("patch", "", "configmaps", "default", "", ""), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := writable(tc.info); got != tc.want {
				t.Errorf("writable = %v, want %v", got, tc.want)
			}
		})
	}
}

// fakeHost answers dry runs and commits like kube-apiserver would for a ConfigMap, and records them.
type fakeHost struct {
	mu       sync.Mutex
	requests []string // "dryRun|commit body"
	reject   bool
}

func (f *fakeHost) Do(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	f.mu.Lock()
	kind := "commit"
	if req.URL.Query().Get("dryRun") == "All" {
		kind = "dryRun"
	}
	f.requests = append(f.requests, kind+" "+string(body))
	f.mu.Unlock()
	if f.reject {
		return &http.Response{StatusCode: 422, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Invalid","code":422,"message":"host says no"}`))}, nil
	}
	obj := &unstructured.Unstructured{}
	_ = obj.UnmarshalJSON(body)
	obj.SetUID("uid-1")
	obj.SetResourceVersion("1")
	out, _ := obj.MarshalJSON()
	return &http.Response{StatusCode: 201, Header: http.Header{"Content-Type": {"application/json"}, "Warning": {`299 - "be careful"`}},
		Body: io.NopCloser(bytes.NewReader(out))}, nil
}

type fakeLister struct {
	pps []*policyv1alpha1.PropagationPolicy
}

func (f fakeLister) PropagationPolicies(string) []*policyv1alpha1.PropagationPolicy { return f.pps }
func (fakeLister) ClusterPropagationPolicies() []*policyv1alpha1.ClusterPropagationPolicy {
	return nil
}
func (fakeLister) OverridePolicies(string) []*policyv1alpha1.OverridePolicy         { return nil }
func (fakeLister) ClusterOverridePolicies() []*policyv1alpha1.ClusterOverridePolicy { return nil }
func (fakeLister) Clusters() []*clusterv1alpha1.Cluster                             { return nil }
func (fakeLister) ResourceBinding(string, string) (*workv1alpha2.ResourceBinding, bool) {
	return nil, false
}
func (fakeLister) ClusterResourceBinding(string) (*workv1alpha2.ClusterResourceBinding, bool) {
	return nil, false
}

type recordingReconciler struct{ keys []string }

func (r *recordingReconciler) Checked(reconcile.Key, map[string]bool) {}

func (r *recordingReconciler) Handoff(_ context.Context, key reconcile.Key, _ *unstructured.Unstructured, _ map[string]bool) error {
	r.keys = append(r.keys, key.Namespace+"/"+key.Name)
	return nil
}

func serve(t *testing.T, p *Pipeline, verb, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/namespaces/default/configmaps", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	info := &request.RequestInfo{IsResourceRequest: true, Verb: verb, APIVersion: "v1", Resource: "configmaps", Namespace: "default"}
	req = req.WithContext(request.WithRequestInfo(context.Background(), info))
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	return rec
}

const cm = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"default"},"data":{"a":"b"}}`

func TestPipelineCommitsClaimedObjectsWithFinalizerAndClaim(t *testing.T) {
	host := &fakeHost{}
	pp := &policyv1alpha1.PropagationPolicy{}
	pp.Name, pp.Namespace = "cms", "default"
	pp.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "v1", Kind: "ConfigMap"}}
	enq := &recordingReconciler{}
	p := New(Config{Host: host, Cache: fakeLister{pps: []*policyv1alpha1.PropagationPolicy{pp}}, Reconciler: enq})
	rec := serve(t, p, "create", cm)
	if rec.Code != 201 || rec.Header().Get("Warning") == "" {
		t.Fatalf("client got %d (headers %v): %s", rec.Code, rec.Header(), rec.Body)
	}
	if len(host.requests) != 2 || !strings.HasPrefix(host.requests[0], "dryRun ") || !strings.HasPrefix(host.requests[1], "commit ") {
		t.Fatalf("host saw %q, want a dry run then a commit", host.requests)
	}
	committed := &unstructured.Unstructured{}
	if err := committed.UnmarshalJSON([]byte(strings.TrimPrefix(host.requests[1], "commit "))); err != nil {
		t.Fatal(err)
	}
	if fs := committed.GetFinalizers(); len(fs) != 1 || fs[0] != names.Finalizer {
		t.Errorf("committed finalizers %v", fs)
	}
	if ref := claim.Of(committed); ref.Name != "cms" || ref.Namespace != "default" {
		t.Errorf("committed claim %+v", ref)
	}
	if len(enq.keys) != 1 || enq.keys[0] != "default/cm" {
		t.Errorf("reconciler got %v", enq.keys)
	}
}

func TestPipelineLeavesUnclaimedObjectsAlone(t *testing.T) {
	host := &fakeHost{}
	p := New(Config{Host: host, Cache: fakeLister{}, Reconciler: &recordingReconciler{}})
	if rec := serve(t, p, "create", cm); rec.Code != 201 {
		t.Fatalf("client got %d: %s", rec.Code, rec.Body)
	}
	if got := strings.TrimPrefix(host.requests[1], "commit "); got != cm {
		t.Errorf("an unclaimed object was changed on commit: %s", got)
	}
}

func TestPipelinePassesHostErrorsThrough(t *testing.T) {
	host := &fakeHost{reject: true}
	p := New(Config{Host: host, Cache: fakeLister{}, Reconciler: &recordingReconciler{}})
	rec := serve(t, p, "create", cm)
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "host says no") {
		t.Fatalf("client got %d: %s", rec.Code, rec.Body)
	}
	if len(host.requests) != 1 {
		t.Errorf("a rejected dry run was committed anyway: %q", host.requests)
	}
}

func TestPolicyPluginRejectsWithFieldPaths(t *testing.T) {
	bad := &unstructured.Unstructured{}
	_ = bad.UnmarshalJSON([]byte(`{"apiVersion":"policy.karmada.io/v1alpha1","kind":"PropagationPolicy","metadata":{"name":"p","namespace":"default"},
		"spec":{"resourceSelectors":[{"apiVersion":"apps/v1","kind":"Deployment","namespace":"other"}],
		"placement":{"replicaScheduling":{"replicaSchedulingType":"Sometimes"}}}}`))
	err := policy{}.Validate(context.Background(), &Attributes{Resolved: bad})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"spec.resourceSelectors[0].namespace", "spec.placement.replicaScheduling.replicaSchedulingType"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

// Admission runs every mutating plugin, then every validating one, each in order, whatever order
// they were listed in, and stops at the first error.
func TestAdmissionRunsMutatingThenValidating(t *testing.T) {
	var ran []string
	mut := func(name string, fail bool) MutationInterface {
		return funcPlugin(func(context.Context, *Attributes) error {
			ran = append(ran, name)
			if fail {
				return errors.New(name + " failed")
			}
			return nil
		})
	}
	val := func(name string, fail bool) ValidationInterface {
		return funcValidator(func(context.Context, *Attributes) error {
			ran = append(ran, name)
			if fail {
				return errors.New(name + " failed")
			}
			return nil
		})
	}
	adm := Admission{Mutating: []MutationInterface{mut("m1", false), mut("m2", false)}, Validating: []ValidationInterface{val("v1", false), val("v2", false)}}
	if err := adm.Admit(context.Background(), &Attributes{Operation: Create}); err != nil || strings.Join(ran, ",") != "m1,m2,v1,v2" {
		t.Errorf("ran %v, err %v; want m1,m2,v1,v2", ran, err)
	}
	ran = nil
	adm = Admission{Mutating: []MutationInterface{mut("m1", false), mut("m2", true)}, Validating: []ValidationInterface{val("v1", false)}}
	if err := adm.Admit(context.Background(), &Attributes{Operation: Create}); err == nil || err.Error() != "m2 failed" || strings.Join(ran, ",") != "m1,m2" {
		t.Errorf("ran %v, err %v; want m1,m2 and m2's error", ran, err)
	}
	ran = nil
	adm = Admission{Mutating: []MutationInterface{mut("m1", false)}, Validating: []ValidationInterface{val("v1", true), val("v2", false)}}
	if err := adm.Admit(context.Background(), &Attributes{Operation: Create}); err == nil || err.Error() != "v1 failed" || strings.Join(ran, ",") != "m1,v1" {
		t.Errorf("ran %v, err %v; want m1,v1 and v1's error", ran, err)
	}
}

type funcPlugin func(context.Context, *Attributes) error

func (funcPlugin) Handles(Operation) bool                           { return true }
func (f funcPlugin) Admit(ctx context.Context, a *Attributes) error { return f(ctx, a) }

type funcValidator func(context.Context, *Attributes) error

func (funcValidator) Handles(Operation) bool                              { return true }
func (f funcValidator) Validate(ctx context.Context, a *Attributes) error { return f(ctx, a) }

// bindingLister is a Lister that holds bindings by name.
type bindingLister struct {
	fakeLister
	rbs map[string]*workv1alpha2.ResourceBinding
}

func (l bindingLister) ResourceBinding(ns, name string) (*workv1alpha2.ResourceBinding, bool) {
	rb, ok := l.rbs[ns+"/"+name]
	return rb, ok
}

// Admission finds the binding the reconciler wrote (named by names.BindingName, as the reconciler
// names it): the last placement is kept for names with ':' and for 253-character names.
func TestPlanInputFindsTheReconcilersBinding(t *testing.T) {
	for _, tc := range []struct{ kind, name string }{
		{"Role", "system:x"}, {"ConfigMap", strings.Repeat("c", 253)}, {"Deployment", "web"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			rb := &workv1alpha2.ResourceBinding{}
			rb.Spec.Clusters = []workv1alpha2.TargetCluster{{Name: "member1"}}
			l := bindingLister{rbs: map[string]*workv1alpha2.ResourceBinding{"ns/" + names.BindingName(tc.kind, tc.name): rb}}
			tmpl := &unstructured.Unstructured{}
			tmpl.SetKind(tc.kind)
			tmpl.SetNamespace("ns")
			tmpl.SetName(tc.name)
			if in := planInput(l, tmpl); len(in.Previous) != 1 || in.Previous[0].Name != "member1" {
				t.Errorf("planInput found no previous placement for %s %q: %+v", tc.kind, tc.name, in.Previous)
			}
		})
	}
}

// handoffRecord is one call of a Reconciler.
type handoffRecord struct {
	kind                  schema.GroupKind
	ns, name, version     string
	checked               map[string]bool
	deadlineBeforeTimeout bool
	clientGone            bool
}

type waitingReconciler struct{ calls, checkedBefore []handoffRecord }

func (w *waitingReconciler) Checked(key reconcile.Key, checked map[string]bool) {
	w.checkedBefore = append(w.checkedBefore, handoffRecord{kind: key.Kind, ns: key.Namespace, name: key.Name, checked: checked})
}

func (w *waitingReconciler) Handoff(ctx context.Context, key reconcile.Key, committed *unstructured.Unstructured, checked map[string]bool) error {
	rv := committed.GetResourceVersion()
	d, ok := ctx.Deadline()
	w.calls = append(w.calls, handoffRecord{kind: key.Kind, ns: key.Namespace, name: key.Name, version: rv, checked: checked,
		deadlineBeforeTimeout: ok && time.Until(d) <= 3*time.Second, clientGone: ctx.Err() != nil})
	return nil
}

// The pipeline never writes to members itself: it hands the committed template (its group, kind
// and resourceVersion) to the reconciler, whose per-member queues are the only writers, and waits
// within --dispatch-timeout. Policies are not handed over: they are never templates.
func TestHandoffGivesTheCommittedVersionToTheReconciler(t *testing.T) {
	pp := &policyv1alpha1.PropagationPolicy{}
	pp.Name, pp.Namespace = "cms", "default"
	pp.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "v1", Kind: "ConfigMap"}}
	d := &waitingReconciler{}
	p := New(Config{Host: &fakeHost{}, Cache: fakeLister{pps: []*policyv1alpha1.PropagationPolicy{pp}}, Reconciler: d,
		HandoffTimeout: 3 * time.Second})
	if rec := serve(t, p, "create", cm); rec.Code != 201 {
		t.Fatalf("client got %d: %s", rec.Code, rec.Body)
	}
	if len(d.calls) != 1 {
		t.Fatalf("reconciler got %d handoffs, want 1", len(d.calls))
	}
	got := d.calls[0]
	if got.kind != (schema.GroupKind{Kind: "ConfigMap"}) || got.ns != "default" || got.name != "cm" || got.version != "1" || !got.deadlineBeforeTimeout {
		t.Errorf("handoff %+v, want ConfigMap default/cm at resourceVersion 1 within the handoff timeout", got)
	}

	policy := `{"apiVersion":"policy.karmada.io/v1alpha1","kind":"PropagationPolicy","metadata":{"name":"p","namespace":"default"},"spec":{"resourceSelectors":[{"apiVersion":"v1","kind":"ConfigMap"}]}}`
	d.calls = nil
	a := &Attributes{Committed: &unstructured.Unstructured{}}
	if err := a.Committed.UnmarshalJSON([]byte(policy)); err != nil {
		t.Fatal(err)
	}
	if (handoff{reconciler: d, timeout: time.Second}).Handoff(context.Background(), a); len(d.calls) != 0 {
		t.Errorf("a committed policy was handed to the reconciler: %+v", d.calls)
	}
}

// What member dry-run checked reaches the reconciler before the commit (a pass the template
// informer starts before the handoff then need not read the member either), for a name known
// before the commit only: not for generateName, not for a client's dry run.
func TestCheckedReachesTheReconcilerBeforeTheCommit(t *testing.T) {
	obj := func(name, generateName string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON([]byte(cm)); err != nil {
			t.Fatal(err)
		}
		u.SetName(name)
		u.SetGenerateName(generateName)
		return u
	}
	checked := map[string]bool{"member1": true}
	d := &waitingReconciler{}
	h := handoff{reconciler: d, timeout: time.Second}
	h.checked(&Attributes{Operation: Create, Resolved: obj("cm", ""), Checked: checked})
	h.checked(&Attributes{Operation: Create, Resolved: obj("cm-abcde", "cm-"), Checked: checked})
	h.checked(&Attributes{Operation: Create, DryRun: true, Resolved: obj("cm", ""), Checked: checked})
	h.checked(&Attributes{Operation: Update, Resolved: obj("cm", ""), Checked: checked})
	if len(d.checkedBefore) != 2 || d.checkedBefore[0].name != "cm" || !d.checkedBefore[0].checked["member1"] || d.checkedBefore[1].name != "cm" {
		t.Errorf("checked before the commit: %+v, want cm (create) and cm (update) only", d.checkedBefore)
	}
	if len(d.calls) != 0 {
		t.Errorf("checked handed the template over: %+v", d.calls)
	}
}

// The handoff passes on what member dry-run checked (for the committed name only), is bounded by
// its timeout however long the reconciler takes, and is not cut short when the client goes away;
// a client's dry run hands nothing over.
func TestHandoffChecksTimeoutAndDryRun(t *testing.T) {
	committed := func(name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON([]byte(cm)); err != nil {
			t.Fatal(err)
		}
		u.SetName(name)
		u.SetResourceVersion("7")
		return u
	}
	checked := map[string]bool{"member1": true, "member2": false}
	d := &waitingReconciler{}
	h := handoff{reconciler: d, timeout: 3 * time.Second}

	h.Handoff(context.Background(), &Attributes{Resolved: committed("cm"), Committed: committed("cm"), Checked: checked})
	// generateName: the dry run named it otherwise, so what it checked does not hold.
	h.Handoff(context.Background(), &Attributes{Resolved: committed("cm-abcde"), Committed: committed("cm-xyz12"), Checked: checked})
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	h.Handoff(gone, &Attributes{Resolved: committed("cm"), Committed: committed("cm"), Checked: checked})
	h.Handoff(context.Background(), &Attributes{DryRun: true, Resolved: committed("cm"), Committed: committed("cm")})
	if len(d.calls) != 3 {
		t.Fatalf("reconciler got %d handoffs, want 3 (none for the dry run): %+v", len(d.calls), d.calls)
	}
	if c := d.calls[0]; c.name != "cm" || c.version != "7" || len(c.checked) != 2 || !c.checked["member1"] || !c.deadlineBeforeTimeout {
		t.Errorf("first handoff %+v: want cm at 7 with member dry-run's checks, within the timeout", c)
	}
	if c := d.calls[1]; c.name != "cm-xyz12" || c.checked != nil {
		t.Errorf("generateName handoff %+v: want the committed name and no checks", c)
	}
	if c := d.calls[2]; c.clientGone {
		t.Errorf("the handoff was cut short with the client's context: %+v", c)
	}

	// A reconciler that never answers holds the write for the timeout only.
	slow := handoff{reconciler: blockingReconciler{}, timeout: 50 * time.Millisecond}
	done := make(chan struct{})
	go func() {
		slow.Handoff(context.Background(), &Attributes{Resolved: committed("cm"), Committed: committed("cm")})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handoff did not end at its timeout")
	}
}

// blockingReconciler waits for its context to end.
type blockingReconciler struct{}

func (blockingReconciler) Checked(reconcile.Key, map[string]bool) {}

func (blockingReconciler) Handoff(ctx context.Context, _ reconcile.Key, _ *unstructured.Unstructured, _ map[string]bool) error {
	<-ctx.Done()
	return ctx.Err()
}
