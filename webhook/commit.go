package webhook

import (
	"context"
	"fmt"
	"mime"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"

	"github.com/fleetgate/fleetgate/propagate/claim"
)

// Finalizer keeps a propagated template until every member copy is gone.
const Finalizer = "fleetgate.io/propagation"

// commit sends the real write to the host. A claimed object written as a JSON create or update gets
// the propagation finalizer and the claim annotations in the same write; other writes (patches,
// server-side apply, protobuf bodies) are committed as sent and the reconciler adds them right after.
type commit struct {
	handlesWrites
	host     Host
	observer Observer
}

// Observer learns of the policies the gateway itself commits, so that the very next request through
// it (say, the Deployment created right after its PropagationPolicy) is planned with them, whatever
// the delay of the watch (propagate/cache.Cache implements it).
type Observer interface {
	Observe(gvr schema.GroupVersionResource, obj *unstructured.Unstructured)
}

var _ MutationInterface = commit{}

func (c commit) Admit(_ context.Context, a *Attributes) error {
	body := a.Body
	if a.Plan != nil && a.Plan.Claimed() && (a.Operation == Create || a.Operation == Update) && isJSON(a.Request.Header.Get("Content-Type")) {
		if b, err := withPropagationMarks(body, a.Plan.Claim.Ref); err == nil {
			body = b
		}
	}
	resp, err := send(c.host, a, body, nil, "")
	if err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("host control plane unreachable: %v", err))
	}
	a.Response = resp
	if resp.Code < 200 || resp.Code > 299 {
		return &HostError{Response: resp}
	}
	if isJSON(resp.Header.Get("Content-Type")) {
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(resp.Body); err == nil && obj.GetName() != "" {
			a.Committed = obj
		}
	}
	if a.Committed != nil && !a.DryRun && c.observer != nil && a.GVR.Group == policyv1alpha1.GroupName {
		c.observer.Observe(a.GVR, a.Committed)
	}
	return nil
}

// withPropagationMarks adds the finalizer and the claim annotations to a JSON object body.
func withPropagationMarks(body []byte, ref claim.Ref) ([]byte, error) {
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(body); err != nil {
		return nil, err
	}
	fins := obj.GetFinalizers()
	has := false
	for _, f := range fins {
		has = has || f == Finalizer
	}
	if !has {
		obj.SetFinalizers(append(fins, Finalizer))
	}
	claim.Set(obj, ref)
	return obj.MarshalJSON()
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}
