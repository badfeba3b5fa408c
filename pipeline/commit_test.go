package pipeline

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/fleetgate/fleetgate/propagate/names"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	kubescheme "k8s.io/client-go/kubernetes/scheme"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/plan"
)

func protobufConfigMap(t *testing.T) []byte { return protobufConfigMapWith(t, nil, nil) }

// protobufConfigMapWith encodes a ConfigMap changed by edit, with extra (raw protobuf fields) added
// to its message, as a newer client's fields would be.
func protobufConfigMapWith(t *testing.T, edit func(*corev1.ConfigMap), extra []byte) []byte {
	t.Helper()
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "default", UID: "uid-1"}, Data: map[string]string{"a": "b"}}
	if edit != nil {
		edit(cm)
	}
	var buf bytes.Buffer
	if err := protobuf.NewSerializer(kubescheme.Scheme, kubescheme.Scheme).Encode(cm, &buf); err != nil {
		t.Fatal(err)
	}
	if extra == nil {
		return buf.Bytes()
	}
	var env runtime.Unknown
	if err := env.Unmarshal(buf.Bytes()[4:]); err != nil {
		t.Fatal(err)
	}
	env.Raw = append(env.Raw, extra...)
	raw, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("k8s\x00"), raw...)
}

// TestCommitMarksProtobufBodies: a protobuf create or update of a claimed object (what client-go's
// typed clients send) carries the finalizer and the claim in the same write too, so the reconciler
// need not patch them in; the client's bytes are all still there, in front of the marks, fields
// the gateway's types do not know included.
func TestCommitMarksProtobufBodies(t *testing.T) {
	unknown := appendProtoBytes(nil, 99, []byte("from the future"))
	for name, body := range map[string][]byte{
		"plain":            protobufConfigMapWith(t, nil, unknown),
		"with a finalizer": protobufConfigMapWith(t, func(cm *corev1.ConfigMap) { cm.Finalizers = []string{"example.com/keep"} }, unknown),
		"with annotations": protobufConfigMapWith(t, func(cm *corev1.ConfigMap) { cm.Annotations = map[string]string{"team": "a"} }, unknown),
		"marked already":   protobufConfigMapWith(t, func(cm *corev1.ConfigMap) { cm.Finalizers = []string{names.Finalizer} }, unknown),
	} {
		t.Run(name, func(t *testing.T) {
			host := &protoHost{answer: protobufConfigMap(t)}
			req := httptest.NewRequest("POST", "/api/v1/namespaces/default/configmaps", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/vnd.kubernetes.protobuf")
			claimed := &plan.Plan{Claim: claim.Decision{Ref: claim.Ref{Namespace: "default", Name: "cms"}}, Spec: &policyv1alpha1.PropagationSpec{}}
			a := &Attributes{Operation: Create, Request: req, Body: body, Plan: claimed}
			if err := (commit{host: host}).Commit(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			var sentEnv, clientEnv runtime.Unknown
			if err := sentEnv.Unmarshal(host.body[4:]); err != nil {
				t.Fatalf("the host got no protobuf object: %v", err)
			}
			_ = clientEnv.Unmarshal(body[4:])
			if !bytes.HasPrefix(sentEnv.Raw, clientEnv.Raw) || sentEnv.TypeMeta != clientEnv.TypeMeta {
				t.Errorf("the client's bytes were not kept as they came")
			}
			obj, _, err := kubescheme.Codecs.UniversalDeserializer().Decode(host.body, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			cm := obj.(*corev1.ConfigMap)
			orig, _, _ := kubescheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
			want := orig.(*corev1.ConfigMap).DeepCopy()
			claim.Set(want, claim.Ref{Namespace: "default", Name: "cms"})
			if !slices.Contains(want.Finalizers, names.Finalizer) {
				want.Finalizers = append(want.Finalizers, names.Finalizer)
			}
			if !equality.Semantic.DeepEqual(cm, want) {
				t.Errorf("sent %+v\nwant %+v", cm.ObjectMeta, want.ObjectMeta)
			}
		})
	}
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
	stale := protobufConfigMapWith(t, func(cm *corev1.ConfigMap) {
		cm.Annotations = map[string]string{policyv1alpha1.ClusterPropagationPolicyAnnotation: "old"}
	}, nil)
	claimed := &plan.Plan{Claim: claim.Decision{Ref: claim.Ref{Namespace: "default", Name: "cms"}}, Spec: &policyv1alpha1.PropagationSpec{}}
	for _, tc := range []struct {
		op          Operation
		method      string
		contentType string
		body        []byte
	}{
		// Protobuf whose marks cannot be merged in (the claim removes an annotation).
		{Create, "POST", "application/vnd.kubernetes.protobuf", stale},
		{Update, "PUT", "application/vnd.kubernetes.protobuf", stale},
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
