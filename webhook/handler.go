package webhook

import (
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
	Host    Host
	Cache   Lister
	Clients MemberClients
	// Dispatcher is the reconciler: the only writer to members.
	Dispatcher Dispatcher
	// Observer, when set, learns of committed policies at once (read your writes).
	Observer Observer
	// Namespaces says which host namespaces reach every member by themselves: the member dry-run
	// creates only those in a member that lacks them (nil: none).
	Namespaces Namespaces
	// MemberDryRun turns the member dry-run plugin on (flag --member-dry-run, default true).
	MemberDryRun bool
	// MemberDryRunTimeout bounds the member dry-run (default 5s).
	MemberDryRunTimeout time.Duration
	// DispatchTimeout bounds how long a write waits for the reconciler to write its members (flag
	// --dispatch-timeout, default 2s).
	DispatchTimeout time.Duration
}

// NewPipeline returns the plugin chain in DESIGN.md order: resolve, policy, match, schedule, override,
// member dry-run (if enabled), commit, dispatch.
func NewPipeline(c Config) Chain {
	if c.MemberDryRunTimeout == 0 {
		c.MemberDryRunTimeout = 5 * time.Second
	}
	if c.DispatchTimeout == 0 {
		c.DispatchTimeout = 2 * time.Second
	}
	namespaces := member.NewNamespaces(time.Minute)
	chain := Chain{
		resolve{host: c.Host},
		policy{},
		match{cache: c.Cache},
		schedule{},
		override{},
	}
	if c.MemberDryRun {
		chain = append(chain, memberDryRun{clients: c.Clients, propagated: c.Namespaces, namespaces: namespaces, timeout: c.MemberDryRunTimeout})
	}
	return append(chain,
		commit{host: c.Host, observer: c.Observer},
		dispatch{dispatcher: c.Dispatcher, timeout: c.DispatchTimeout},
	)
}

// Handles says whether a request enters the pipeline: a create, update or patch (server-side apply
// included) of a resource itself (not a subresource) that may be propagated. Namespaces go straight
// to the host; the reconciler creates them on the members.
func Handles(info *request.RequestInfo) bool {
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

// NewHandler serves the writes that Handles accepts by running the chain; the client gets the
// host's answer to the commit, or the first plugin's error.
func NewHandler(chain Chain) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		if err := chain.Admit(r.Context(), a); err != nil {
			var he *HostError
			if errors.As(err, &he) {
				writeHostResponse(w, he.Response)
				return
			}
			writeError(w, err)
			return
		}
		if a.Response == nil {
			writeError(w, apierrors.NewInternalError(errors.New("the pipeline committed nothing")))
			return
		}
		writeHostResponse(w, a.Response)
	})
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
