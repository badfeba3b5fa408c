package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fleetgate/fleetgate/propagate/names"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	kubescheme "k8s.io/client-go/kubernetes/scheme"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/plan"
)

func protobufConfigMap(t *testing.T) []byte {
	t.Helper()
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "default", UID: "uid-1"}, Data: map[string]string{"a": "b"}}
	var buf bytes.Buffer
	if err := protobuf.NewSerializer(kubescheme.Scheme, kubescheme.Scheme).Encode(cm, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// protoHost answers every request with a protobuf ConfigMap and records what it was sent.
type protoHost struct {
	body        []byte
	contentType string
	answer      []byte
}

func (p *protoHost) Do(req *http.Request) (*http.Response, error) {
	p.body, _ = io.ReadAll(req.Body)
	p.contentType = req.Header.Get("Content-Type")
	return &http.Response{StatusCode: 201, Header: http.Header{"Content-Type": {"application/vnd.kubernetes.protobuf"}},
		Body: io.NopCloser(bytes.NewReader(p.answer))}, nil
}

// TestCommitHandlesProtobuf: a protobuf create of a claimed object is committed as JSON with the
// propagation marks, and the host's protobuf answer is decoded for dispatch.
func TestCommitHandlesProtobuf(t *testing.T) {
	pb := protobufConfigMap(t)
	host := &protoHost{answer: pb}
	req := httptest.NewRequest("POST", "/api/v1/namespaces/default/configmaps", bytes.NewReader(pb))
	req.Header.Set("Content-Type", "application/vnd.kubernetes.protobuf")
	claimed := &plan.Plan{Claim: claim.Decision{Ref: claim.Ref{Namespace: "default", Name: "cms"}}, Spec: &policyv1alpha1.PropagationSpec{}}
	a := &Attributes{Operation: Create, Request: req, Body: pb, Plan: claimed}
	if err := (commit{host: host}).Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if host.contentType != "application/json" {
		t.Fatalf("committed as %q, want application/json", host.contentType)
	}
	sent, err := decodeObject("application/json", host.body)
	if err != nil {
		t.Fatal(err)
	}
	if fs := sent.GetFinalizers(); len(fs) != 1 || fs[0] != names.Finalizer || claim.Of(sent).Name != "cms" {
		t.Errorf("marks missing: finalizers %v, claim %+v", fs, claim.Of(sent))
	}
	if v, _, _ := unstructured.NestedString(sent.Object, "data", "a"); v != "b" {
		t.Errorf("data lost in re-encoding: %v", sent.Object)
	}
	if a.Committed == nil || a.Committed.GetName() != "cm" || a.Committed.GetKind() != "ConfigMap" || a.Committed.GetAPIVersion() != "v1" {
		t.Errorf("protobuf answer not decoded: %+v", a.Committed)
	}
}
