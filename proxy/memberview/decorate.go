package memberview

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// AnnotationCluster names, on every object of a merged view, the member it came from.
const AnnotationCluster = "fleetgate.io/cluster"

// Owners maps between member copies and their templates, so that controller references hold
// through the gateway: a member ReplicaSet names its Deployment copy's UID, clients look the
// Deployment up on the gateway and see the template's.
type Owners interface {
	// TemplateUID returns the UID of the template whose copy in cluster is the object of kind gk,
	// namespace and name with UID uid; false when that object is not a managed copy.
	TemplateUID(cluster string, gk schema.GroupKind, namespace, name string, uid types.UID) (types.UID, bool)
	// CopyUID is the inverse: the UID of the copy in cluster of the template with UID template.
	CopyUID(cluster string, gk schema.GroupKind, namespace, name string, template types.UID) (types.UID, bool)
}

// decorator rewrites member objects for a merged view, and back.
type decorator struct {
	owners Owners // nil: owner references are left alone
}

// object rewrites one member object (JSON): the cluster annotation, owner references pointing at
// managed copies turned to their templates, and, when rv is not empty, its resourceVersion.
func (d decorator) object(cluster string, raw []byte, rv string) ([]byte, error) {
	if out, ok := d.fastObject(cluster, raw, rv); ok {
		return out, nil
	}
	return d.slowObject(cluster, raw, rv)
}

// slowObject is object by decoding and encoding.
func (d decorator) slowObject(cluster string, raw []byte, rv string) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("decode object from cluster %s: %w", cluster, err)
	}
	md := map[string]any{}
	if m, ok := obj["metadata"]; ok && !bytes.Equal(m, []byte("null")) {
		if err := json.Unmarshal(m, &md); err != nil {
			return nil, fmt.Errorf("decode object metadata from cluster %s: %w", cluster, err)
		}
	}
	annotations, _ := md["annotations"].(map[string]any)
	if annotations == nil {
		annotations = map[string]any{}
	}
	annotations[AnnotationCluster] = cluster
	md["annotations"] = annotations
	if rv != "" {
		md["resourceVersion"] = rv
	}
	d.mapOwners(cluster, md, false)
	m, err := json.Marshal(md)
	if err != nil {
		return nil, err
	}
	obj["metadata"] = m
	return json.Marshal(obj)
}

// row rewrites one Table row: the cluster as its first cell, and its object (if any) as object does.
func (d decorator) row(cluster string, raw []byte, rv string) ([]byte, error) {
	if out, ok := d.fastRow(cluster, raw, rv); ok {
		return out, nil
	}
	return d.slowRow(cluster, raw, rv)
}

// slowRow is row by decoding and encoding.
func (d decorator) slowRow(cluster string, raw []byte, rv string) ([]byte, error) {
	var row map[string]json.RawMessage
	if err := json.Unmarshal(raw, &row); err != nil {
		return nil, fmt.Errorf("decode table row from cluster %s: %w", cluster, err)
	}
	var cells []json.RawMessage
	if c, ok := row["cells"]; ok {
		if err := json.Unmarshal(c, &cells); err != nil {
			return nil, fmt.Errorf("decode table cells from cluster %s: %w", cluster, err)
		}
	}
	name, _ := json.Marshal(cluster)
	cells = append([]json.RawMessage{name}, cells...)
	c, err := json.Marshal(cells)
	if err != nil {
		return nil, err
	}
	row["cells"] = c
	if o, ok := row["object"]; ok && len(o) > 0 && !bytes.Equal(o, []byte("null")) {
		if row["object"], err = d.slowObject(cluster, o, rv); err != nil {
			return nil, err
		}
	}
	return json.Marshal(row)
}

// table rewrites a whole Table (one event of a watch with as=Table): every row, and the CLUSTER
// column first.
func (d decorator) table(cluster string, raw []byte, rv string) ([]byte, error) {
	var t map[string]json.RawMessage
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("decode table from cluster %s: %w", cluster, err)
	}
	if cols, ok := t["columnDefinitions"]; ok {
		c, err := withClusterColumn(cols)
		if err != nil {
			return nil, fmt.Errorf("table from cluster %s: %w", cluster, err)
		}
		t["columnDefinitions"] = c
	}
	var rows []json.RawMessage
	if r, ok := t["rows"]; ok {
		if err := json.Unmarshal(r, &rows); err != nil {
			return nil, fmt.Errorf("decode table rows from cluster %s: %w", cluster, err)
		}
	}
	for i := range rows {
		var err error
		if rows[i], err = d.row(cluster, rows[i], rv); err != nil {
			return nil, err
		}
	}
	r, err := json.Marshal(rows)
	if err != nil {
		return nil, err
	}
	t["rows"] = r
	if rv != "" {
		t["metadata"], _ = json.Marshal(map[string]string{"resourceVersion": rv})
	}
	return json.Marshal(t)
}

// clusterColumn is the Table column the merged views put first.
var clusterColumn = json.RawMessage(`{"name":"Cluster","type":"string","format":"","description":"The member cluster the object is in (annotation fleetgate.io/cluster).","priority":0}`)

// withClusterColumn prepends the CLUSTER column to a Table's columnDefinitions.
func withClusterColumn(raw []byte) ([]byte, error) {
	var cols []json.RawMessage
	if err := json.Unmarshal(raw, &cols); err != nil {
		return nil, fmt.Errorf("decode columnDefinitions: %w", err)
	}
	return json.Marshal(append([]json.RawMessage{clusterColumn}, cols...))
}

// mapOwners rewrites md's ownerReferences: to templates (toCopies false) or back to the copies.
func (d decorator) mapOwners(cluster string, md map[string]any, toCopies bool) {
	refs, _ := md["ownerReferences"].([]any)
	ns, _ := md["namespace"].(string)
	d.mapRefs(cluster, ns, refs, toCopies)
}

// mapRefs rewrites the UIDs of owner references (decoded JSON) that point at managed copies (or,
// toCopies, at their templates) and reports whether it changed any.
func (d decorator) mapRefs(cluster, ns string, refs []any, toCopies bool) bool {
	if d.owners == nil {
		return false
	}
	changed := false
	for _, r := range refs {
		ref, _ := r.(map[string]any)
		av, _ := ref["apiVersion"].(string)
		kind, _ := ref["kind"].(string)
		name, _ := ref["name"].(string)
		uid, _ := ref["uid"].(string)
		gv, err := schema.ParseGroupVersion(av)
		if err != nil || kind == "" || name == "" {
			continue
		}
		gk := schema.GroupKind{Group: gv.Group, Kind: kind}
		lookup := d.owners.TemplateUID
		if toCopies {
			lookup = d.owners.CopyUID
		}
		if to, ok := lookup(cluster, gk, ns, name, types.UID(uid)); ok && string(to) != uid {
			ref["uid"] = string(to)
			changed = true
		}
	}
	return changed
}

// quote is s as a JSON string.
func quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// fastObject is object done by splicing the member's bytes; false when the object needs the
// decoding path (no metadata object, annotations that are null or already name a cluster, …).
func (d decorator) fastObject(cluster string, b []byte, rv string) ([]byte, bool) {
	ms, me := -1, -1
	if !eachField(b, skipSpace(b, 0), func(k []byte, vs, ve int) bool {
		if string(k) == "metadata" {
			ms, me = vs, ve
			return false
		}
		return true
	}) || ms < 0 || b[ms] != '{' {
		return nil, false
	}
	as, ae, rs, re, os, oe, ns, ne := -1, -1, -1, -1, -1, -1, -1, -1
	if !eachField(b[:me], ms, func(k []byte, vs, ve int) bool {
		switch string(k) {
		case "annotations":
			as, ae = vs, ve
		case "resourceVersion":
			rs, re = vs, ve
		case "ownerReferences":
			os, oe = vs, ve
		case "namespace":
			ns, ne = vs, ve
		}
		return true
	}) {
		return nil, false
	}
	var edits []splice
	var head [][]byte // members added at the start of metadata
	entry := append([]byte(`"`+AnnotationCluster+`":`), quote(cluster)...)
	if as >= 0 {
		if b[as] != '{' || bytes.Contains(b[as:ae], []byte(`"`+AnnotationCluster+`"`)) {
			return nil, false
		}
		text := entry
		if !isEmptyContainer(b, as) {
			text = append(text, ',')
		}
		edits = append(edits, splice{at: as + 1, end: as + 1, text: text})
	} else {
		head = append(head, append(append([]byte(`"annotations":{`), entry...), '}'))
	}
	if rv != "" {
		if rs >= 0 {
			edits = append(edits, splice{at: rs, end: re, text: quote(rv)})
		} else {
			head = append(head, append([]byte(`"resourceVersion":`), quote(rv)...))
		}
	}
	if os >= 0 && d.owners != nil && b[os] == '[' {
		var refs []any
		var namespace string
		if json.Unmarshal(b[os:oe], &refs) != nil {
			return nil, false
		}
		if ns >= 0 {
			_ = json.Unmarshal(b[ns:ne], &namespace)
		}
		if d.mapRefs(cluster, namespace, refs, false) {
			text, err := json.Marshal(refs)
			if err != nil {
				return nil, false
			}
			edits = append(edits, splice{at: os, end: oe, text: text})
		}
	}
	if len(head) > 0 {
		text := bytes.Join(head, []byte(","))
		if !isEmptyContainer(b, ms) {
			text = append(text, ',')
		}
		edits = append(edits, splice{at: ms + 1, end: ms + 1, text: text})
	}
	slices.SortFunc(edits, func(x, y splice) int { return x.at - y.at })
	return applySplices(b, edits), true
}

// fastRow is row done by splicing; false when the row needs the decoding path.
func (d decorator) fastRow(cluster string, b []byte, rv string) ([]byte, bool) {
	cs, os, oe := -1, -1, -1
	if !eachField(b, skipSpace(b, 0), func(k []byte, vs, ve int) bool {
		switch string(k) {
		case "cells":
			cs = vs
		case "object":
			os, oe = vs, ve
		}
		return true
	}) || cs < 0 || b[cs] != '[' {
		return nil, false
	}
	cell := quote(cluster)
	if !isEmptyContainer(b, cs) {
		cell = append(cell, ',')
	}
	edits := []splice{{at: cs + 1, end: cs + 1, text: cell}}
	if os >= 0 && b[os] == '{' {
		obj, ok := d.fastObject(cluster, b[os:oe], rv)
		if !ok {
			return nil, false
		}
		edits = append(edits, splice{at: os, end: oe, text: obj})
	}
	slices.SortFunc(edits, func(x, y splice) int { return x.at - y.at })
	return applySplices(b, edits), true
}

// errNoPosition: an update's composite resourceVersion does not name the member it goes to.
var errNoPosition = errors.New("stale resourceVersion")

// undo turns an object a client sends back (an update of a member object through the view) into
// what the member stores: no cluster annotation, owner references to the copies again, and the
// member's own resourceVersion in place of a composite one. Bodies that are not JSON objects are
// returned as they are.
func (d decorator) undo(cluster string, raw []byte) ([]byte, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return raw, nil
	}
	md := map[string]any{}
	if m, ok := obj["metadata"]; ok {
		if err := json.Unmarshal(m, &md); err != nil {
			return nil, fmt.Errorf("decode metadata: %w", err)
		}
	}
	if a, ok := md["annotations"].(map[string]any); ok {
		delete(a, AnnotationCluster)
	}
	if rv, _ := md["resourceVersion"].(string); rv != "" {
		v, composite, err := decodeVersions(rv)
		if err != nil {
			return nil, err
		}
		if composite {
			own, ok := v[cluster]
			if !ok {
				// No position of this member: sending none would make the update unconditional.
				return nil, fmt.Errorf("%w: resourceVersion %s names no position of cluster %s; read the object again", errNoPosition, rv, cluster)
			}
			md["resourceVersion"] = own
		}
	}
	d.mapOwners(cluster, md, true)
	m, err := json.Marshal(md)
	if err != nil {
		return nil, err
	}
	obj["metadata"] = m
	return json.Marshal(obj)
}
