package pipeline

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

// TestCommitSendsNonJSONBodiesAsTheyCame: a protobuf (or CBOR, YAML) create or update of a claimed
// object reaches the host byte for byte as the client sent it, in its own encoding: decoding it into
// the gateway's compiled types and re-encoding would drop every field those types do not know (a
// newer host's, a newer kubectl's). The reconciler adds the propagation marks right after, as it does
// for patches. The host's protobuf answer is still decoded for dispatch.
func TestCommitSendsNonJSONBodiesAsTheyCame(t *testing.T) {
	pb := protobufConfigMap(t)
	claimed := &plan.Plan{Claim: claim.Decision{Ref: claim.Ref{Namespace: "default", Name: "cms"}}, Spec: &policyv1alpha1.PropagationSpec{}}
	for _, tc := range []struct {
		op          Operation
		method      string
		contentType string
		body        []byte
	}{
		{Create, "POST", "application/vnd.kubernetes.protobuf", pb},
		{Update, "PUT", "application/vnd.kubernetes.protobuf", pb},
		// Not valid CBOR for the scheme: the bytes must pass untouched all the same.
		{Create, "POST", "application/cbor", []byte{0xd9, 0xd9, 0xf7, 0xa1, 0x61, 0x61, 0x61, 0x62}},
		{Update, "PUT", "application/yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: default}\nnewField: kept\n")},
	} {
		t.Run(string(tc.op)+" "+tc.contentType, func(t *testing.T) {
			host := &protoHost{answer: pb}
			path := "/api/v1/namespaces/default/configmaps"
			if tc.op == Update {
				path += "/cm"
			}
			req := httptest.NewRequest(tc.method, path, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			a := &Attributes{Operation: tc.op, Request: req, Body: tc.body, Plan: claimed}
			if err := (commit{host: host}).Commit(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			if host.contentType != tc.contentType {
				t.Errorf("committed as %q, want the client's %q", host.contentType, tc.contentType)
			}
			if !bytes.Equal(host.body, tc.body) {
				t.Errorf("the host got %d bytes that are not the client's %d:\n got %q\nwant %q", len(host.body), len(tc.body), host.body, tc.body)
			}
			if a.Committed == nil || a.Committed.GetName() != "cm" || a.Committed.GetKind() != "ConfigMap" || a.Committed.GetAPIVersion() != "v1" {
				t.Errorf("protobuf answer not decoded: %+v", a.Committed)
			}
		})
	}
}

// TestCommitMarksJSONBodies: a JSON create of a claimed object carries the finalizer and the claim
// in the same write, and keeps every field, known to the gateway's types or not.
func TestCommitMarksJSONBodies(t *testing.T) {
	body := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"default"},"data":{"a":"b"},"fieldFromTheFuture":{"x":[1,2]}}`)
	host := &protoHost{answer: protobufConfigMap(t)}
	req := httptest.NewRequest("POST", "/api/v1/namespaces/default/configmaps", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	claimed := &plan.Plan{Claim: claim.Decision{Ref: claim.Ref{Namespace: "default", Name: "cms"}}, Spec: &policyv1alpha1.PropagationSpec{}}
	a := &Attributes{Operation: Create, Request: req, Body: body, Plan: claimed}
	if err := (commit{host: host}).Commit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	sent, err := decodeObject("application/json", host.body)
	if err != nil {
		t.Fatal(err)
	}
	if fs := sent.GetFinalizers(); len(fs) != 1 || fs[0] != names.Finalizer || claim.Of(sent).Name != "cms" {
		t.Errorf("marks missing: finalizers %v, claim %+v", fs, claim.Of(sent))
	}
	if v, _, _ := unstructured.NestedString(sent.Object, "data", "a"); v != "b" {
		t.Errorf("data lost: %s", host.body)
	}
	if _, ok := sent.Object["fieldFromTheFuture"]; !ok {
		t.Errorf("unknown field lost: %s", host.body)
	}
}
