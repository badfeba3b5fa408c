package memberview

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// Clusters reaches members as the caller found in the request's context.
type Clusters interface {
	// Do sends req (its path and query) to cluster.
	Do(cluster string, req *http.Request) (*http.Response, error)
	// Proxy forwards r to cluster and copies the answer to w, upgrades (exec, attach,
	// port-forward) included.
	Proxy(cluster string, w http.ResponseWriter, r *http.Request)
}

// Host answers whether the host holds a template (Do sends a request to the host as the caller).
type Host interface {
	Do(req *http.Request) (*http.Response, error)
}

// Config is what a View needs.
type Config struct {
	// Members returns the joined clusters (the host's Cluster objects).
	Members func() []*clusterv1alpha1.Cluster
	// Clusters reaches them.
	Clusters Clusters
	// Owners maps owner references between copies and templates; nil leaves them alone.
	Owners Owners
	// Resources are the member-native resources of the default view (Serves).
	Resources []schema.GroupResource
	// Host and Next serve writes by name when the host holds a template of that name.
	Host Host
	Next http.Handler
	// KindFor names the kind of a resource (the host's discovery knows the member-native kinds), for
	// the answers no member gave: an empty list, the bookmark that ends no member's initial events.
	// Nil, or not found: a generic List, a bookmark without a kind.
	KindFor func(schema.GroupVersionResource) (schema.GroupVersionKind, error)
}

// View serves merged views.
type View struct {
	cfg       Config
	resources map[schema.GroupResource]bool
	dec       decorator
}

// New returns a View.
func New(cfg Config) *View {
	v := &View{cfg: cfg, resources: map[schema.GroupResource]bool{}, dec: decorator{owners: cfg.Owners}}
	for _, gr := range cfg.Resources {
		v.resources[gr] = true
	}
	return v
}

// DefaultResources are the member-native resources of the default view (docs/ARCHITECTURE.md, 8).
var DefaultResources = []schema.GroupResource{
	{Resource: "pods"}, {Resource: "nodes"}, {Resource: "endpoints"},
	{Group: "apps", Resource: "replicasets"}, {Group: "apps", Resource: "controllerrevisions"},
	{Group: "discovery.k8s.io", Resource: "endpointslices"},
}

// ParseResources reads a --member-view value: comma-separated resource[.group] names.
func ParseResources(s string) ([]schema.GroupResource, error) {
	var out []schema.GroupResource
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		gr := schema.ParseGroupResource(f)
		if gr.Resource == "" || strings.ContainsAny(f, "/ ") {
			return nil, fmt.Errorf("member view resource %q: want resource[.group], such as pods or replicasets.apps", f)
		}
		out = append(out, gr)
	}
	return out, nil
}

// Serves reports whether the default view takes a request: reads (get, list, watch) of its
// resources, their subresources, and updates, patches and deletes by name. Creates are templates
// (the host's); collections are deleted on the host.
func (v *View) Serves(info *request.RequestInfo) bool {
	if info == nil || !info.IsResourceRequest || !v.resources[schema.GroupResource{Group: info.APIGroup, Resource: info.Resource}] {
		return false
	}
	switch info.Verb {
	case "get", "list", "watch":
		return true
	case "update", "patch", "delete":
		return info.Name != ""
	}
	return info.Name != "" && info.Subresource != "" // e.g. a pod's eviction (create)
}

// ServeHTTP serves the default view: every Ready member, writes by name to a template on the host
// when there is one.
func (v *View) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info, _ := request.RequestInfoFrom(r.Context())
	v.Serve(w, r, info, Scope{Clusters: v.cfg.Members(), Templates: true})
}

// Scope is what one request may see.
type Scope struct {
	// Clusters are the members in the view.
	Clusters []*clusterv1alpha1.Cluster
	// Templates: writes by name go to the host when it holds a template of that name.
	Templates bool
}

// Serve answers a resource request (info describes r) from the members in scope.
func (v *View) Serve(w http.ResponseWriter, r *http.Request, info *request.RequestInfo, scope Scope) {
	gr := schema.GroupResource{Group: info.APIGroup, Resource: info.Resource}
	targets, notReady, warnings := readyTargets(scope.Clusters, gr)
	req := &viewRequest{View: v, w: w, r: r, info: info, gr: gr, targets: targets, notReady: notReady, warnings: warnings}
	switch {
	case info.Verb == "list":
		req.list()
	case info.Verb == "watch":
		req.watch()
	case info.Verb == "get" && info.Subresource == "":
		req.get()
	case info.Subresource == "" && scope.Templates && (info.Verb == "update" || info.Verb == "patch" || info.Verb == "delete"):
		req.writeByName()
	default:
		req.toOwner()
	}
}

// readyTargets returns the Ready clusters and the others, sorted by name, and a warning for each
// other one.
func readyTargets(clusters []*clusterv1alpha1.Cluster, gr schema.GroupResource) (ready, notReady, warnings []string) {
	for _, c := range clusters {
		if clusterv1alpha1.IsReady(c) {
			ready = append(ready, c.Name)
		} else {
			notReady = append(notReady, c.Name)
		}
	}
	slices.Sort(ready)
	slices.Sort(notReady)
	for _, c := range notReady {
		warnings = append(warnings, fmt.Sprintf("cluster %s is not ready: its %s are not shown", c, gr.Resource))
	}
	return ready, notReady, warnings
}

// viewRequest is one request to a merged view.
type viewRequest struct {
	*View
	w        http.ResponseWriter
	r        *http.Request
	info     *request.RequestInfo
	gr       schema.GroupResource
	targets  []string // the Ready members, sorted
	notReady []string // the others (a watch keeps trying them)
	warnings []string
}

// kind is the kind of the request's resource, when Config.KindFor knows it.
func (q *viewRequest) kind() (schema.GroupVersionKind, bool) {
	if q.cfg.KindFor == nil {
		return schema.GroupVersionKind{}, false
	}
	gvk, err := q.cfg.KindFor(schema.GroupVersionResource{Group: q.info.APIGroup, Version: q.info.APIVersion, Resource: q.info.Resource})
	return gvk, err == nil && gvk.Kind != ""
}

// memberAnswer is one member's answer to a fanned-out request.
type memberAnswer struct {
	cluster string
	resp    *http.Response
	err     error
}

// failed reports whether the answer is an error: no response, or a status that is not 2xx.
func (a memberAnswer) failed() bool { return a.err != nil || a.resp.StatusCode/100 != 2 }

// describe says what went wrong, for a warning.
func (a memberAnswer) describe() string {
	if a.err != nil {
		return a.err.Error()
	}
	b, _ := io.ReadAll(io.LimitReader(a.resp.Body, 4<<10))
	var st metav1.Status
	if err := json.Unmarshal(b, &st); err == nil && st.Message != "" {
		return st.Message
	}
	return a.resp.Status
}

// AnswerTimeout is how long a merged view waits for a member to start answering (its status line)
// before it leaves the member out with a warning. Reading the answer has no such limit.
var AnswerTimeout = 5 * time.Second

// fanOut sends one request per target in parallel (query built by queryFor) and returns the
// answers in target order. A member that has not started to answer within AnswerTimeout is left
// out (its answer is an error).
func (q *viewRequest) fanOut(ctx context.Context, accept string, queryFor func(cluster string) url.Values) []memberAnswer {
	out := make([]memberAnswer, len(q.targets))
	var wg sync.WaitGroup
	for i, cluster := range q.targets {
		wg.Go(func() {
			mctx, cancel := context.WithCancel(ctx)
			timer := time.AfterFunc(AnswerTimeout, cancel)
			resp, err := q.send(mctx, cluster, http.MethodGet, accept, queryFor(cluster), nil)
			if !timer.Stop() {
				err = fmt.Errorf("cluster %s did not answer within %s", cluster, AnswerTimeout)
				if resp != nil {
					resp.Body.Close()
					resp = nil
				}
			}
			if resp == nil {
				cancel()
			} else {
				resp.Body = cancelOnClose{resp.Body, cancel}
			}
			out[i] = memberAnswer{cluster: cluster, resp: resp, err: err}
		})
	}
	wg.Wait()
	return out
}

// cancelOnClose ends a member request's context once its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// send makes one request to cluster for the request's path.
func (q *viewRequest) send(ctx context.Context, cluster, method, accept string, query url.Values, body io.Reader) (*http.Response, error) {
	u := url.URL{Path: q.r.URL.Path, RawQuery: query.Encode()}
	out, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	out.Header.Set("Accept", accept)
	// Not compressed: the members are read and rewritten here, and compressing costs them and the
	// gateway more CPU than the bytes cost on the way.
	out.Header.Set("Accept-Encoding", "identity")
	resp, err := q.cfg.Clusters.Do(cluster, out)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cluster, err)
	}
	return resp, nil
}

// acceptJSON keeps the JSON media types of a client's Accept header (tables included): merged views
// decode and re-encode what members send, and they speak JSON.
func acceptJSON(h string) (string, bool) {
	if h == "" {
		return "application/json", true
	}
	var keep []string
	for _, part := range strings.Split(h, ",") {
		mt := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
		if mt == "application/json" || mt == "*/*" || mt == "application/*" {
			keep = append(keep, strings.TrimSpace(part))
		}
	}
	if len(keep) == 0 {
		return "", false
	}
	return strings.Join(keep, ","), true
}

// accept is the Accept header to send members for this request; when the client admits no JSON it
// has answered 406 and returns false.
func (q *viewRequest) accept() (string, bool) {
	accept, ok := acceptJSON(q.r.Header.Get("Accept"))
	if !ok {
		q.fail(apierrors.NewGenericServerResponse(http.StatusNotAcceptable, q.info.Verb, q.gr, q.info.Name,
			"merged member views are served as JSON only", 0, false))
	}
	return accept, ok
}

// isTableBody reports whether a member's answer is a Table (kube-apiserver sends Tables as
// Content-Type application/json, so the body says).
func isTableBody(b []byte) bool {
	var probe struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	return json.Unmarshal(b, &probe) == nil && probe.Kind == "Table" && strings.HasPrefix(probe.APIVersion, "meta.k8s.io/")
}

// addWarnings sets a Warning header per warning (kubectl prints them).
func (q *viewRequest) addWarnings(extra ...string) {
	for _, w := range append(slices.Clone(q.warnings), extra...) {
		q.w.Header().Add("Warning", fmt.Sprintf("299 - %q", w))
	}
}

// fail answers with an API error, encoded as the client asked.
func (q *viewRequest) fail(err error) {
	q.addWarnings()
	writeError(q.w, q.r, err)
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	responsewriters.ErrorNegotiated(err, scheme.Codecs.WithoutConversion(), schema.GroupVersion{Version: "v1"}, w, r)
}

// copyAnswer writes a member's answer to the client as it is (an error every member gave).
func (q *viewRequest) copyAnswer(a memberAnswer) {
	if a.err != nil {
		q.fail(apierrors.NewServiceUnavailable(a.err.Error()))
		return
	}
	defer a.resp.Body.Close()
	q.addWarnings()
	for _, h := range []string{"Content-Type", "Retry-After"} {
		if v := a.resp.Header.Get(h); v != "" {
			q.w.Header().Set(h, v)
		}
	}
	q.w.WriteHeader(a.resp.StatusCode)
	_, _ = io.Copy(q.w, a.resp.Body)
}

// closeAll closes the bodies of answers.
func closeAll(answers []memberAnswer) {
	for _, a := range answers {
		if a.resp != nil {
			a.resp.Body.Close()
		}
	}
}

// noTargets answers a request no member can take.
func (q *viewRequest) noTargets() {
	q.fail(apierrors.NewServiceUnavailable(fmt.Sprintf("no Ready member cluster to serve %s", q.gr.String())))
}

func klogFrom(r *http.Request) klog.Logger { return klog.FromContext(r.Context()) }
