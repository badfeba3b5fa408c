package pipeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	kubescheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/names"
)

// protobufPrefix starts every object in the API's protobuf encoding; a runtime.Unknown follows,
// whose Raw is the object's own message.
var protobufPrefix = []byte{0x6b, 0x38, 0x73, 0x00}

// Field numbers of the API's protobuf messages (k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto):
// every top-level object has its ObjectMeta as field 1; in ObjectMeta annotations are field 12 (a
// map<string, string>: entries with key 1 and value 2) and finalizers field 14.
const (
	protoFieldMetadata    = 1
	protoFieldAnnotations = 12
	protoFieldFinalizers  = 14
)

// withProtobufMarks adds the finalizer and the claim annotations to a protobuf body without
// decoding and re-encoding it: protobuf merges a message field that occurs twice, map entries and
// repeated fields included, so a second metadata field holding only the marks, appended to the
// object's message, adds them and leaves every byte the client sent as it was (fields the gateway's
// types do not know included). It returns ok false — the body is then sent as it came and the
// reconciler adds the marks — when the body is not one it can read, or when the marks cannot be
// added by merging (an annotation the claim removes). The result is checked: decoded, it must be
// the client's object with the marks and nothing else changed.
func withProtobufMarks(body []byte, ref claim.Ref) (_ []byte, ok bool, _ error) {
	if !bytes.HasPrefix(body, protobufPrefix) {
		return nil, false, nil
	}
	var env runtime.Unknown
	if err := env.Unmarshal(body[len(protobufPrefix):]); err != nil {
		return nil, false, nil
	}
	decoder := kubescheme.Codecs.UniversalDeserializer()
	orig, _, err := decoder.Decode(body, nil, nil)
	if err != nil {
		return nil, false, nil // a kind the gateway's scheme does not know
	}
	want := orig.DeepCopyObject()
	m, err := meta.Accessor(want)
	if err != nil {
		return nil, false, nil
	}
	before := m.GetAnnotations()
	claim.Set(m, ref)
	var add []string // annotation keys and values to merge in
	for k, v := range m.GetAnnotations() {
		if old, had := before[k]; !had || old != v {
			add = append(add, k, v)
		}
	}
	for k := range before {
		if _, kept := m.GetAnnotations()[k]; !kept {
			return nil, false, nil // a merge cannot remove an annotation
		}
	}
	addFinalizer := !slices.Contains(m.GetFinalizers(), names.Finalizer)
	if addFinalizer {
		m.SetFinalizers(append(m.GetFinalizers(), names.Finalizer))
	}
	if len(add) == 0 && !addFinalizer {
		return body, true, nil
	}

	var metadata []byte
	for i := 0; i < len(add); i += 2 {
		var entry []byte
		entry = appendProtoBytes(entry, 1, []byte(add[i]))
		entry = appendProtoBytes(entry, 2, []byte(add[i+1]))
		metadata = appendProtoBytes(metadata, protoFieldAnnotations, entry)
	}
	if addFinalizer {
		metadata = appendProtoBytes(metadata, protoFieldFinalizers, []byte(names.Finalizer))
	}
	env.Raw = appendProtoBytes(slices.Clip(env.Raw), protoFieldMetadata, metadata)
	raw, err := env.Marshal()
	if err != nil {
		return nil, false, fmt.Errorf("encode the protobuf envelope: %w", err)
	}
	out := append(slices.Clone(protobufPrefix), raw...)

	got, _, err := decoder.Decode(out, nil, nil)
	if err != nil || !equality.Semantic.DeepEqual(got, want) {
		return nil, false, nil // not the message layout assumed above: leave the marks to the reconciler
	}
	return out, true, nil
}

// appendProtoBytes appends a length-delimited field (wire type 2) to b.
func appendProtoBytes(b []byte, field int, value []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(value)))
	return append(b, value...)
}
