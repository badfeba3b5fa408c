package reconcile

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"

	"github.com/fleetgate/fleetgate/propagate/claim"
	"github.com/fleetgate/fleetgate/propagate/member"
)

// watched is a member copy as the copy watch keeps it (its informer's transform, a copyCodec's,
// makes it): the metadata that event handlers and lookups read, digests of what the update handler
// compares, and the whole object (without managedFields) as JSON compressed against the first
// copy the informer saw, decoded only when a template pass looks at the copy (drift, status,
// retained replicas). The copies are the gateway's largest cache, one per template and member:
// copies of one kind differ in little more than names, UIDs and times, so a small Deployment's
// 1.6 KB of JSON compress to about 150 bytes against that dictionary (6.5 KB as an unstructured
// object, maps of interfaces).
type watched struct {
	// ObjectMeta holds only Name, Namespace, UID, ResourceVersion, Generation and
	// DeletionTimestamp; the informer's store keys the copy by it.
	metav1.ObjectMeta
	// template and templateUID are the annotations member.AnnotationTemplate and
	// member.AnnotationTemplateUID; managed is member.IsManaged.
	template, templateUID string
	managed               bool
	// meta digests the labels, annotations and finalizers; status digests the status.
	meta, status uint64
	packed
}

// packed is an object's JSON (managedFields dropped) compressed by its informer's codec; size is
// its length uncompressed.
type packed struct {
	raw   []byte
	size  int
	codec *copyCodec
}

// cachedTemplate is a template as the template informers keep it (copyCodec.templateTransform
// makes it): the metadata that handlers, indexes and lookups read, its claim (claimIndexValue, ""
// for none), a digest of its labels, annotations and finalizers, and the whole object packed. A
// small Deployment template with its aggregated status takes about 9 KB as an unstructured
// object.
type cachedTemplate struct {
	// ObjectMeta holds only Name, Namespace, UID, ResourceVersion, Generation and
	// DeletionTimestamp.
	metav1.ObjectMeta
	claim string
	meta  uint64
	packed
}

// digestSeed seeds the digests (they are compared within this process only).
var digestSeed = maphash.MakeSeed()

// copyCodec compresses the objects of one informer, a kind's copies in one member or a kind's
// templates (DEFLATE, RFC 1951), with the first object it packed as the preset dictionary. Compressors are pooled: they are large (about 1 MB) and
// sync.Pool lets an idle informer's go at the next collection.
type copyCodec struct {
	mu   sync.Mutex
	dict []byte // set once, by the first compact

	writers, readers sync.Pool
}

// copyLevel is the DEFLATE level: from 2 on, the dictionary's matches are found (level 1's
// encoder finds few); higher levels gain nothing on objects this small.
const copyLevel = 2

// transform is the copy informers' transform: it turns the watch's unstructured objects into
// watched ones. Anything else (an object already compact) passes as it is.
func (cc *copyCodec) transform(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	return cc.compact(u)
}

// templateTransform is the template informers' transform: it turns the watch's unstructured
// objects into cachedTemplates. Anything else passes as it is.
func (cc *copyCodec) templateTransform(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	p, meta, err := cc.packMeta(u)
	if err != nil {
		return nil, err
	}
	t := &cachedTemplate{
		ObjectMeta: metav1.ObjectMeta{
			Name: u.GetName(), Namespace: u.GetNamespace(), UID: u.GetUID(), ResourceVersion: u.GetResourceVersion(),
			Generation: u.GetGeneration(), DeletionTimestamp: u.GetDeletionTimestamp(),
		},
		meta:   meta,
		packed: p,
	}
	if r := claim.Of(u); !r.IsZero() {
		t.claim = claimIndexValue(r)
	}
	return t, nil
}

// pack returns u's JSON compressed.
func (cc *copyCodec) pack(u *unstructured.Unstructured) (packed, error) {
	js, err := u.MarshalJSON()
	if err != nil {
		return packed{}, err
	}
	raw, err := cc.compress(js)
	if err != nil {
		return packed{}, err
	}
	return packed{raw: raw, size: len(js), codec: cc}, nil
}

// dictionary returns the codec's dictionary, making raw it if there is none yet.
func (cc *copyCodec) dictionary(raw []byte) []byte {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.dict == nil {
		cc.dict = bytes.Clone(raw)
	}
	return cc.dict
}

func (cc *copyCodec) compress(raw []byte) ([]byte, error) {
	dict := cc.dictionary(raw)
	var buf bytes.Buffer
	buf.Grow(len(raw)/4 + 64)
	w, _ := cc.writers.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriterDict(&buf, copyLevel, dict); err != nil {
			return nil, err
		}
	} else {
		w.Reset(&buf) // keeps the dictionary
	}
	defer cc.writers.Put(w)
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

func (cc *copyCodec) decompress(raw []byte, size int) ([]byte, error) {
	cc.mu.Lock()
	dict := cc.dict
	cc.mu.Unlock()
	src := bytes.NewReader(raw)
	r, _ := cc.readers.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReaderDict(src, dict)
	} else if err := r.(flate.Resetter).Reset(src, dict); err != nil {
		return nil, err
	}
	defer cc.readers.Put(r)
	out := make([]byte, size)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, fmt.Errorf("decompress copy: %w", err)
	}
	return out, nil
}

// packMeta drops u's managedFields (large, never read) and returns u packed and the digest of its
// labels, annotations and finalizers.
func (cc *copyCodec) packMeta(u *unstructured.Unstructured) (packed, uint64, error) {
	u.SetManagedFields(nil)
	p, err := cc.pack(u)
	if err != nil {
		return packed{}, 0, err
	}
	md, _ := u.Object["metadata"].(map[string]any)
	meta, err := digest(md["labels"], md["annotations"], md["finalizers"])
	return p, meta, err
}

// compact returns u as the copy watch keeps it.
func (cc *copyCodec) compact(u *unstructured.Unstructured) (*watched, error) {
	p, meta, err := cc.packMeta(u)
	if err != nil {
		return nil, err
	}
	status, err := digest(u.Object["status"])
	if err != nil {
		return nil, err
	}
	ann := u.GetAnnotations()
	return &watched{
		ObjectMeta: metav1.ObjectMeta{
			Name: u.GetName(), Namespace: u.GetNamespace(), UID: u.GetUID(), ResourceVersion: u.GetResourceVersion(),
			Generation: u.GetGeneration(), DeletionTimestamp: u.GetDeletionTimestamp(),
		},
		template:    ann[member.AnnotationTemplate],
		templateUID: ann[member.AnnotationTemplateUID],
		managed:     member.IsManaged(u),
		meta:        meta,
		status:      status,
		packed:      p,
	}, nil
}

// digest hashes the JSON of values (map keys sorted, so equal values give equal digests). A
// value that is absent (nil) and an empty one digest alike only if their JSON does.
func digest(values ...any) (uint64, error) {
	var h maphash.Hash
	h.SetSeed(digestSeed)
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			return 0, err
		}
		_, _ = h.Write(b)
		_ = h.WriteByte(0)
	}
	return h.Sum64(), nil
}

// object decodes the copy as the watch delivered it (without managedFields). A copy that does not
// decode (it was encoded and compressed from a decoded object: it always does) is nil.
func (w *packed) object() *unstructured.Unstructured {
	js, err := w.codec.decompress(w.raw, w.size)
	if err != nil {
		klog.Background().Error(err, "A cached object does not unpack; it is read as absent")
		return nil
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		klog.Background().Error(err, "A cached object does not decode; it is read as absent")
		return nil
	}
	return u
}

// changedTemplate reports whether an update of a cached template changed what its pass reads
// beyond the resourceVersion and the status: generation (spec), labels, annotations, finalizers or
// deletion.
func changedTemplate(old, cur *cachedTemplate) bool {
	switch {
	case old.ResourceVersion == cur.ResourceVersion:
		return false // a resync
	case old.Generation == 0 || old.Generation != cur.Generation:
		return true
	}
	return old.meta != cur.meta || (old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil)
}

// copyChanged reports whether an update of a copy changed what its template pass reads beyond
// the resourceVersion: generation (spec), labels, annotations, finalizers, deletion, or status.
// It is changedTemplate || a status change, for watched copies.
func copyChanged(old, cur *watched) bool {
	switch {
	case old.ResourceVersion == cur.ResourceVersion:
		return false // a resync
	case old.Generation == 0 || old.Generation != cur.Generation:
		return true
	}
	return old.meta != cur.meta || old.status != cur.status ||
		(old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil)
}
