package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/member"
)

// Config is what the pipeline needs.
type Config struct {
	// Host sends requests to the host control plane as the caller (proxy.NewCaller).
	Host  Host
	Cache Lister
	// Kinds maps resources to kinds (the gateway's discovery-backed RESTMapper), for the decision
	// which writes enter the pipeline. Nil: every write Handles' first test accepts enters.
	Kinds   KindResolver
	Clients MemberClients
	// Reconciler takes each committed template: its per-member queues are the only writers to members.
	Reconciler Reconciler
	// Observer, when set, learns of committed policies at once (read your writes).
	Observer Observer
	// Namespaces says which host namespaces reach every member by themselves: the member dry-run
	// creates only those in a member that lacks them (nil: none).
	Namespaces Namespaces
	// MemberDryRun turns the member dry-run plugin on (flag --member-dry-run, default true).
	MemberDryRun bool
	// MemberDryRunTimeout bounds the member dry-run (default 5s).
	MemberDryRunTimeout time.Duration
	// HandoffTimeout bounds how long a write waits for the reconciler to dispatch its copies to the
	// members (flag --dispatch-timeout, default 2s).
	HandoffTimeout time.Duration
	// ObserveStage, when set, is told how long each write spent in each stage: the admission
	// plugins by name (resolve, match, schedule, override, policy, memberDryRun), commit, handoff.
	ObserveStage func(stage string, d time.Duration)
}

// Pipeline is the gateway's write path for the kinds that may be propagated, in the order
// kube-apiserver serves a write (k8s.io/apiserver/pkg/endpoints/handlers with
// k8s.io/apiserver/pkg/admission): admission — mutating plugins (resolve, match, schedule,
// override), then validating ones (policy, member dry-run) — then the commit (the storage write:
// the host), then the handoff of the committed template to the reconciler. The client gets the
// host's answer to the commit, or the first error.
type Pipeline struct {
	admission Admission
	commit    commit
	handoff   handoff
	cache     Lister
	kinds     KindResolver
	observe   func(stage string, d time.Duration)
}

// New assembles the pipeline.
func New(c Config) *Pipeline {
	if c.MemberDryRunTimeout == 0 {
		c.MemberDryRunTimeout = 5 * time.Second
	}
	if c.HandoffTimeout == 0 {
		c.HandoffTimeout = 2 * time.Second
	}
	if c.ObserveStage == nil {
		c.ObserveStage = func(string, time.Duration) {}
	}
	adm := Admission{observe: c.ObserveStage,
		Mutating: []MutationInterface{
			resolve{host: c.Host},
			match{cache: c.Cache},
			schedule{},
			override{},
		},
		Validating: []ValidationInterface{policy{}},
	}
	if c.MemberDryRun {
		adm.Validating = append(adm.Validating, memberDryRun{clients: c.Clients, propagated: c.Namespaces,
			namespaces: member.NewNamespaces(time.Minute), timeout: c.MemberDryRunTimeout})
	}
	return &Pipeline{
		admission: adm,
		commit:    commit{host: c.Host, observer: c.Observer},
		handoff:   handoff{reconciler: c.Reconciler, timeout: c.HandoffTimeout},
		cache:     c.Cache,
		kinds:     c.Kinds,
		observe:   c.ObserveStage,
	}
}

// Handles is the one decision which requests enter the pipeline: a create, update or patch
// (server-side apply included) of a resource itself that may be propagated (writable), of a kind
// some policy could claim (mayClaim). Everything else goes straight to the host.
func (p *Pipeline) Handles(info *request.RequestInfo) bool {
	return writable(info) && (p.kinds == nil || mayClaim(p.cache, p.kinds, info))
}

// writable says whether a request could concern propagation: a create, update or patch (server-side
// apply included) of a resource itself (not a subresource) that may be propagated. Namespaces go
// straight to the host; the reconciler creates them on the members.
func writable(info *request.RequestInfo) bool {
	if info == nil || !info.IsResourceRequest || info.Subresource != "" || info.Name == "" && info.Verb != "create" {
		return false
	}
	switch info.Verb {
	case "create", "update", "patch":
	default:
		return false
	}
	if info.APIGroup == "" && info.Resource == "namespaces" {
		return false
	}
	// Kinds are not known here; resources of the excluded kinds are checked by name. match checks the
	// resolved object's kind again.
	switch {
	case info.APIGroup == "" && info.Resource == "events",
		info.APIGroup == "coordination.k8s.io" && info.Resource == "leases",
		info.APIGroup == "certificates.k8s.io" && info.Resource == "certificatesigningrequests":
		return false
	}
	if info.APIGroup == "policy.karmada.io" {
		return true // validated by the policy plugin
	}
	return claim.Propagatable(schema.GroupVersionKind{Group: info.APIGroup, Version: info.APIVersion, Kind: "*"}, info.Namespace)
}

// maxBodyBytes is the largest request body the pipeline accepts (kube-apiserver's limit).
const maxBodyBytes = 3 << 20

// ServeHTTP serves a write Handles accepted.
func (p *Pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info, _ := request.RequestInfoFrom(r.Context())
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("read request body: %v", err)))
		return
	}
	if len(body) > maxBodyBytes {
		writeError(w, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("request body is larger than %d bytes", maxBodyBytes)))
		return
	}
	a := &Attributes{
		Operation: operation(info.Verb),
		Info:      info,
		GVR:       schema.GroupVersionResource{Group: info.APIGroup, Version: info.APIVersion, Resource: info.Resource},
		Request:   r,
		Body:      body,
		DryRun:    len(r.URL.Query()["dryRun"]) > 0,
	}
	if err := p.serve(r.Context(), a); err != nil {
		var he *HostError
		if errors.As(err, &he) {
			writeHostResponse(w, he.Response)
			return
		}
		writeError(w, err)
		return
	}
	writeHostResponse(w, a.Response)
}

// serve runs admission, the commit and the handoff.
func (p *Pipeline) serve(ctx context.Context, a *Attributes) error {
	if err := p.admission.Admit(ctx, a); err != nil {
		return err
	}
	p.handoff.checked(a)
	start := time.Now()
	err := p.commit.Commit(ctx, a)
	p.observe("commit", time.Since(start))
	if err != nil {
		return err
	}
	start = time.Now()
	p.handoff.Handoff(ctx, a)
	p.observe("handoff", time.Since(start))
	return nil
}

func operation(verb string) Operation {
	switch verb {
	case "create":
		return Create
	case "update":
		return Update
	}
	return Patch
}

// hopHeaders are not copied from the host's buffered answer.
var hopHeaders = map[string]bool{"Content-Length": true, "Connection": true, "Transfer-Encoding": true, "Keep-Alive": true}

func writeHostResponse(w http.ResponseWriter, resp *HostResponse) {
	for k, vs := range resp.Header {
		if hopHeaders[http.CanonicalHeaderKey(k)] || strings.HasPrefix(k, ":") {
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.Code)
	_, _ = w.Write(resp.Body)
}

func writeError(w http.ResponseWriter, err error) {
	var status metav1.Status
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		status = s.Status()
	} else {
		status = apierrors.NewInternalError(err).Status()
	}
	status.Kind, status.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(status.Code))
	_ = json.NewEncoder(w).Encode(status)
}
