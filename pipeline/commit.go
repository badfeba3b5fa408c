package pipeline

import (
	"context"
	"fmt"
	"mime"

	"github.com/fleetgate/fleetgate/propagate/names"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubescheme "k8s.io/client-go/kubernetes/scheme"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"

	"github.com/fleetgate/fleetgate/propagate/claim"
)

// commit sends the real write to the host. A claimed object written as a JSON or protobuf create or
// update gets the propagation finalizer and the claim annotations in the same write: JSON is decoded
// as unstructured JSON, so every field survives; protobuf gets the marks appended as a second
// metadata field, which protobuf merges, so the client's bytes stay as they were
// (withProtobufMarks). Any other body — CBOR, YAML — is sent byte for byte as the client sent it:
// rebuilding it from the gateway's compiled types would drop every field those types do not know (a
// newer host's, a newer kubectl's). Those writes, patches and server-side apply get the marks from
// the reconciler right after, as a patch of the gateway's own.
// The host's answer is decoded whatever its encoding, for dispatch (its name and resourceVersion).
//
// The commit is not an admission plugin: it is the storage write that admission guards.
type commit struct {
	host     Host
	observer Observer
}

// Observer learns of the policies the gateway itself commits, so that the very next request through
// it (say, the Deployment created right after its PropagationPolicy) is planned with them, whatever
// the delay of the watch (propagate/cache.Cache implements it).
type Observer interface {
	Observe(gvr schema.GroupVersionResource, obj *unstructured.Unstructured)
}

// Commit writes; a.Response is the host's answer. A host answer that is not a success is a
// *HostError, which goes back to the client as it is.
func (c commit) Commit(_ context.Context, a *Attributes) error {
	body := a.Body
	if a.Plan != nil && a.Plan.Claimed() && (a.Operation == Create || a.Operation == Update) {
		switch ct := a.Request.Header.Get("Content-Type"); {
		case isJSON(ct):
			obj := &unstructured.Unstructured{}
			if err := obj.UnmarshalJSON(body); err == nil {
				if b, err := withPropagationMarks(obj, a.Plan.Claim.Ref); err == nil {
					body = b
				}
			}
		case isProtobuf(ct):
			if b, ok, err := withProtobufMarks(body, a.Plan.Claim.Ref); err == nil && ok {
				body = b
			}
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
	if obj, err := decodeObject(resp.Header.Get("Content-Type"), resp.Body); err == nil && obj.GetName() != "" {
		a.Committed = obj
	}
	if a.Committed != nil && !a.DryRun && c.observer != nil && a.GVR.Group == policyv1alpha1.GroupName {
		c.observer.Observe(a.GVR, a.Committed)
	}
	return nil
}

// withPropagationMarks adds the finalizer and the claim annotations to obj and encodes it as JSON.
func withPropagationMarks(obj *unstructured.Unstructured, ref claim.Ref) ([]byte, error) {
	fins := obj.GetFinalizers()
	has := false
	for _, f := range fins {
		has = has || f == names.Finalizer
	}
	if !has {
		obj.SetFinalizers(append(fins, names.Finalizer))
	}
	claim.Set(obj, ref)
	return obj.MarshalJSON()
}

func isProtobuf(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == runtime.ContentTypeProtobuf
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// decodeObject decodes one object in any encoding the API serves: JSON directly, anything else
// (protobuf, CBOR, YAML) through client-go's scheme, which knows the built-in kinds (custom
// resources are always JSON).
func decodeObject(contentType string, body []byte) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	if isJSON(contentType) {
		return obj, obj.UnmarshalJSON(body)
	}
	typed, gvk, err := kubescheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", contentType, err)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return nil, err
	}
	obj.Object = m
	obj.SetGroupVersionKind(*gvk)
	return obj, nil
}
