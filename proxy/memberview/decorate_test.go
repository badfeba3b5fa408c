package memberview

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// managedCopy is one copy of a template in a member, as the reconciler knows it.
type managedCopy struct {
	cluster         string
	gk              schema.GroupKind
	namespace, name string
	copyUID         types.UID
	templateUID     types.UID
}

// fakeOwners knows a fixed set of managed copies; it answers only for an exact match.
type fakeOwners []managedCopy

func (f fakeOwners) TemplateUID(cluster string, gk schema.GroupKind, namespace, name string, uid types.UID) (types.UID, bool) {
	for _, c := range f {
		if c.cluster == cluster && c.gk == gk && c.namespace == namespace && c.name == name && c.copyUID == uid {
			return c.templateUID, true
		}
	}
	return "", false
}

func (f fakeOwners) CopyUID(cluster string, gk schema.GroupKind, namespace, name string, template types.UID) (types.UID, bool) {
	for _, c := range f {
		if c.cluster == cluster && c.gk == gk && c.namespace == namespace && c.name == name && c.templateUID == template {
			return c.copyUID, true
		}
	}
	return "", false
}

var testOwners = fakeOwners{
	{cluster: "member1", gk: schema.GroupKind{Group: "apps", Kind: "Deployment"}, namespace: "shop", name: "web", copyUID: "copy-uid-1", templateUID: "template-uid"},
	{cluster: "member2", gk: schema.GroupKind{Group: "apps", Kind: "Deployment"}, namespace: "shop", name: "web", copyUID: "copy-uid-2", templateUID: "template-uid"},
}

// replicaSet is a member ReplicaSet as kube-apiserver serves it, owned by refs.
func replicaSet(annotations, refs string) string {
	md := `"name":"web-5d9c7b8f6","namespace":"shop","uid":"rs-uid","resourceVersion":"4711","generation":3,"creationTimestamp":"2024-05-01T10:00:00Z","labels":{"app":"web","pod-template-hash":"5d9c7b8f6"}`
	if annotations != "" {
		md += `,"annotations":` + annotations
	}
	if refs != "" {
		md += `,"ownerReferences":` + refs
	}
	return `{"kind":"ReplicaSet","apiVersion":"apps/v1","metadata":{` + md + `},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}}},"status":{"replicas":2,"readyReplicas":2,"observedGeneration":3}}`
}

func ownerRef(apiVersion, kind, name, uid string) string {
	return `{"apiVersion":"` + apiVersion + `","kind":"` + kind + `","name":"` + name + `","uid":"` + uid + `","controller":true,"blockOwnerDeletion":true}`
}

// jsonMap decodes b as a JSON object (the test fails if it is not one).
func jsonMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, b)
	}
	return m
}

func metadataOf(t *testing.T, b []byte) map[string]any {
	t.Helper()
	md, _ := jsonMap(t, b)["metadata"].(map[string]any)
	if md == nil {
		t.Fatalf("no metadata in %s", b)
	}
	return md
}

func ownerUIDs(md map[string]any) []string {
	var out []string
	refs, _ := md["ownerReferences"].([]any)
	for _, r := range refs {
		out = append(out, r.(map[string]any)["uid"].(string))
	}
	return out
}

func TestDecoratorObject(t *testing.T) {
	for _, tc := range []struct {
		name       string
		owners     Owners
		cluster    string
		in         string
		rv         string
		wantRV     any
		wantAnnot  map[string]any
		wantOwners []string
	}{
		{
			name: "annotation added", cluster: "member1", in: replicaSet("", ""),
			wantRV: "4711", wantAnnot: map[string]any{AnnotationCluster: "member1"},
		},
		{
			name: "existing annotations kept", cluster: "member1", in: replicaSet(`{"deployment.kubernetes.io/revision":"2","team":"shop"}`, ""),
			wantRV: "4711", wantAnnot: map[string]any{AnnotationCluster: "member1", "deployment.kubernetes.io/revision": "2", "team": "shop"},
		},
		{
			name: "a stale cluster annotation is overwritten", cluster: "member2", in: replicaSet(`{"fleetgate.io/cluster":"member1"}`, ""),
			wantRV: "4711", wantAnnot: map[string]any{AnnotationCluster: "member2"},
		},
		{
			name: "a stale cluster annotation is overwritten, the others kept", cluster: "member2", in: replicaSet(`{"team":"shop","fleetgate.io/cluster":"member1","z":"last"}`, ""), rv: "fg1.pos",
			wantRV: "fg1.pos", wantAnnot: map[string]any{AnnotationCluster: "member2", "team": "shop", "z": "last"},
		},
		{
			name: "resourceVersion set when asked", cluster: "member1", in: replicaSet("", ""), rv: "fg1.composite",
			wantRV: "fg1.composite", wantAnnot: map[string]any{AnnotationCluster: "member1"},
		},
		{
			name: "null annotations", cluster: "member1", in: replicaSet("null", ""),
			wantRV: "4711", wantAnnot: map[string]any{AnnotationCluster: "member1"},
		},
		{
			name: "no metadata", cluster: "member1", in: `{"kind":"Pod","apiVersion":"v1"}`,
			wantRV: nil, wantAnnot: map[string]any{AnnotationCluster: "member1"},
		},
		{
			name: "null metadata", cluster: "member1", in: `{"kind":"Pod","apiVersion":"v1","metadata":null}`, rv: "fg1.x",
			wantRV: "fg1.x", wantAnnot: map[string]any{AnnotationCluster: "member1"},
		},
		{
			name: "owner reference to a managed copy turned to the template", owners: testOwners, cluster: "member1",
			in:     replicaSet("", "["+ownerRef("apps/v1", "Deployment", "web", "copy-uid-1")+"]"),
			wantRV: "4711", wantAnnot: map[string]any{AnnotationCluster: "member1"}, wantOwners: []string{"template-uid"},
		},
		{
			name: "only matching references change", owners: testOwners, cluster: "member1",
			in: replicaSet("", "["+
				ownerRef("apps/v1", "Deployment", "web", "copy-uid-1")+","+ // the copy
				ownerRef("apps/v1", "Deployment", "web", "other-uid")+","+ // same name, another UID
				ownerRef("apps/v1", "Deployment", "api", "copy-uid-1")+","+ // another name
				ownerRef("apps/v1", "StatefulSet", "web", "copy-uid-1")+","+ // another kind
				ownerRef("extensions/v1beta1", "Deployment", "web", "copy-uid-1")+","+ // another group
				ownerRef("apps/v1", "Deployment", "web", "copy-uid-2")+ // member2's copy, seen in member1
				"]"),
			wantRV: "4711", wantAnnot: map[string]any{AnnotationCluster: "member1"},
			wantOwners: []string{"template-uid", "other-uid", "copy-uid-1", "copy-uid-1", "copy-uid-1", "copy-uid-2"},
		},
		{
			name: "the member decides which copy", owners: testOwners, cluster: "member2",
			in:     replicaSet("", "["+ownerRef("apps/v1", "Deployment", "web", "copy-uid-2")+"]"),
			wantRV: "4711", wantAnnot: map[string]any{AnnotationCluster: "member2"}, wantOwners: []string{"template-uid"},
		},
		{
			name: "no Owners: references left alone", cluster: "member1",
			in:     replicaSet("", "["+ownerRef("apps/v1", "Deployment", "web", "copy-uid-1")+"]"),
			wantRV: "4711", wantAnnot: map[string]any{AnnotationCluster: "member1"}, wantOwners: []string{"copy-uid-1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decorator{owners: tc.owners}
			out, err := d.object(tc.cluster, []byte(tc.in), tc.rv)
			if err != nil {
				t.Fatal(err)
			}
			md := metadataOf(t, out)
			if !reflect.DeepEqual(md["annotations"], tc.wantAnnot) {
				t.Errorf("annotations %v, want %v", md["annotations"], tc.wantAnnot)
			}
			if md["resourceVersion"] != tc.wantRV {
				t.Errorf("resourceVersion %v, want %v", md["resourceVersion"], tc.wantRV)
			}
			if got := ownerUIDs(md); !reflect.DeepEqual(got, tc.wantOwners) {
				t.Errorf("owner UIDs %v, want %v", got, tc.wantOwners)
			}
			// Everything else is as the member sent it.
			want, got := jsonMap(t, []byte(tc.in)), jsonMap(t, out)
			for _, m := range []map[string]any{want, got} {
				if md, ok := m["metadata"].(map[string]any); ok {
					delete(md, "annotations")
					delete(md, "resourceVersion")
					delete(md, "ownerReferences")
					if len(md) == 0 {
						delete(m, "metadata")
					}
				} else {
					delete(m, "metadata")
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("other fields changed:\n got %v\nwant %v", got, want)
			}
			if strings.Contains(tc.in, `"ownerReferences"`) {
				refs := metadataOf(t, out)["ownerReferences"].([]any)
				for _, r := range refs {
					ref := r.(map[string]any)
					if ref["controller"] != true || ref["blockOwnerDeletion"] != true || ref["name"] == "" {
						t.Errorf("owner reference lost fields: %v", ref)
					}
				}
			}
		})
	}
}

func TestDecoratorObjectRejectsNonObjects(t *testing.T) {
	for _, in := range []string{`not json`, `["a"]`, `{"metadata":"a string"}`} {
		if out, err := (decorator{}).object("member1", []byte(in), ""); err == nil {
			t.Errorf("object(%s) = %s, want an error", in, out)
		} else if !strings.Contains(err.Error(), "member1") {
			t.Errorf("object(%s): error %q does not name the cluster", in, err)
		}
	}
}

// podRow is a row of a kube-apiserver pod Table (includeObject=Metadata).
const podRow = `{"cells":["web-5d9c7b8f6-x2x8z","1/1","Running",0,"3d"],"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"web-5d9c7b8f6-x2x8z","namespace":"shop","uid":"pod-uid","resourceVersion":"4712","annotations":{"team":"shop"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5d9c7b8f6","uid":"rs-uid","controller":true}]}}}`

func TestDecoratorRow(t *testing.T) {
	for _, tc := range []struct {
		name, in, rv string
		wantCells    []any
		wantObject   bool
		wantRV       string
		noTeam       bool // the object has no other annotation
	}{
		{name: "with object", in: podRow, wantCells: []any{"member1", "web-5d9c7b8f6-x2x8z", "1/1", "Running", 0.0, "3d"}, wantObject: true, wantRV: "4712"},
		{name: "with object and position", in: podRow, rv: "fg1.pos", wantCells: []any{"member1", "web-5d9c7b8f6-x2x8z", "1/1", "Running", 0.0, "3d"}, wantObject: true, wantRV: "fg1.pos"},
		{name: "without object", in: `{"cells":["web","Running"]}`, wantCells: []any{"member1", "web", "Running"}},
		{
			name:      "object with a stale cluster annotation",
			in:        `{"cells":["web-5d9c7b8f6-x2x8z","1/1"],"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"web-5d9c7b8f6-x2x8z","resourceVersion":"4712","annotations":{"fleetgate.io/cluster":"old","team":"shop"}}}}`,
			wantCells: []any{"member1", "web-5d9c7b8f6-x2x8z", "1/1"}, wantObject: true, wantRV: "4712",
		},
		{
			name:      "object with null annotations, and a position",
			in:        `{"cells":["web-5d9c7b8f6-x2x8z"],"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"web-5d9c7b8f6-x2x8z","resourceVersion":"4712","annotations":null}}}`,
			rv:        "fg1.pos",
			wantCells: []any{"member1", "web-5d9c7b8f6-x2x8z"}, wantObject: true, wantRV: "fg1.pos", noTeam: true,
		},
		{name: "null object", in: `{"cells":["web"],"object":null}`, wantCells: []any{"member1", "web"}},
		{name: "no cells", in: `{}`, wantCells: []any{"member1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := (decorator{}).row("member1", []byte(tc.in), tc.rv)
			if err != nil {
				t.Fatal(err)
			}
			row := jsonMap(t, out)
			if !reflect.DeepEqual(row["cells"], tc.wantCells) {
				t.Errorf("cells %v, want %v", row["cells"], tc.wantCells)
			}
			obj, _ := row["object"].(map[string]any)
			if !tc.wantObject {
				if obj != nil {
					t.Errorf("object %v appeared", obj)
				}
				return
			}
			md, _ := obj["metadata"].(map[string]any)
			annotations, _ := md["annotations"].(map[string]any)
			want := map[string]any{AnnotationCluster: "member1", "team": "shop"}
			if tc.noTeam {
				delete(want, "team")
			}
			if !reflect.DeepEqual(annotations, want) {
				t.Errorf("row object annotations %v, want %v", annotations, want)
			}
			if md["resourceVersion"] != tc.wantRV {
				t.Errorf("row object resourceVersion %v, want %v", md["resourceVersion"], tc.wantRV)
			}
			if obj["kind"] != "PartialObjectMetadata" {
				t.Errorf("row object kind %v", obj["kind"])
			}
		})
	}
	if _, err := (decorator{}).row("member1", []byte(`{"cells":"no list"}`), ""); err == nil {
		t.Error("a row whose cells are no list: no error")
	}
}

func TestDecoratorTable(t *testing.T) {
	in := `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"4712"},"columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"","priority":0},{"name":"Ready","type":"string","format":"","description":"","priority":0},{"name":"Status","type":"string","format":"","description":"","priority":0},{"name":"Restarts","type":"string","format":"","description":"","priority":0},{"name":"Age","type":"string","format":"","description":"","priority":0}],"rows":[` + podRow + `,` + podRow + `]}`
	for _, tc := range []struct{ rv, wantRV string }{{"", "4712"}, {"fg1.pos", "fg1.pos"}} {
		out, err := (decorator{}).table("member1", []byte(in), tc.rv)
		if err != nil {
			t.Fatal(err)
		}
		var table struct {
			Kind     string `json:"kind"`
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
			Columns []struct {
				Name string `json:"name"`
			} `json:"columnDefinitions"`
			Rows []struct {
				Cells  []any `json:"cells"`
				Object struct {
					Metadata struct {
						ResourceVersion string            `json:"resourceVersion"`
						Annotations     map[string]string `json:"annotations"`
					} `json:"metadata"`
				} `json:"object"`
			} `json:"rows"`
		}
		if err := json.Unmarshal(out, &table); err != nil {
			t.Fatal(err)
		}
		var cols []string
		for _, c := range table.Columns {
			cols = append(cols, c.Name)
		}
		if table.Kind != "Table" || strings.Join(cols, ",") != "Cluster,Name,Ready,Status,Restarts,Age" {
			t.Errorf("rv %q: kind %q columns %v", tc.rv, table.Kind, cols)
		}
		if table.Metadata.ResourceVersion != tc.wantRV {
			t.Errorf("rv %q: table resourceVersion %q, want %q", tc.rv, table.Metadata.ResourceVersion, tc.wantRV)
		}
		if len(table.Rows) != 2 {
			t.Fatalf("rows %d", len(table.Rows))
		}
		for _, r := range table.Rows {
			if len(r.Cells) != 6 || r.Cells[0] != "member1" || r.Object.Metadata.Annotations[AnnotationCluster] != "member1" {
				t.Errorf("row %+v", r)
			}
			want := tc.rv
			if want == "" {
				want = "4712"
			}
			if r.Object.Metadata.ResourceVersion != want {
				t.Errorf("row object resourceVersion %q, want %q", r.Object.Metadata.ResourceVersion, want)
			}
		}
	}
	if _, err := (decorator{}).table("member1", []byte(`{"kind":"Table","columnDefinitions":{}}`), ""); err == nil {
		t.Error("columnDefinitions that are no list: no error")
	}
}

func TestDecoratorUndo(t *testing.T) {
	composite := versions{"member1": "4711", "member2": "999"}.encode()
	for _, tc := range []struct {
		name, cluster, in string
		owners            Owners
		wantRV            any
		wantAnnot         any
		wantOwners        []string
	}{
		{
			name: "cluster annotation taken out, others kept", cluster: "member1",
			in:     replicaSet(`{"fleetgate.io/cluster":"member1","team":"shop"}`, ""),
			wantRV: "4711", wantAnnot: map[string]any{"team": "shop"},
		},
		{
			name: "composite resourceVersion back to the member's", cluster: "member2",
			in:     strings.Replace(replicaSet(`{"fleetgate.io/cluster":"member2"}`, ""), `"4711"`, `"`+composite+`"`, 1),
			wantRV: "999", wantAnnot: map[string]any{},
		},
		{
			name: "member's own resourceVersion kept", cluster: "member1",
			in:     replicaSet(`{"fleetgate.io/cluster":"member1"}`, ""),
			wantRV: "4711", wantAnnot: map[string]any{},
		},
		{
			name: "owner references back to the copy", cluster: "member2", owners: testOwners,
			in: replicaSet(`{"fleetgate.io/cluster":"member2"}`, "["+
				ownerRef("apps/v1", "Deployment", "web", "template-uid")+","+
				ownerRef("apps/v1", "Deployment", "other", "template-uid")+"]"),
			wantRV: "4711", wantAnnot: map[string]any{}, wantOwners: []string{"copy-uid-2", "template-uid"},
		},
		{
			name: "no annotations at all", cluster: "member1", in: replicaSet("", ""),
			wantRV: "4711", wantAnnot: nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := (decorator{owners: tc.owners}).undo(tc.cluster, []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			md := metadataOf(t, out)
			if md["resourceVersion"] != tc.wantRV {
				t.Errorf("resourceVersion %v, want %v", md["resourceVersion"], tc.wantRV)
			}
			if !reflect.DeepEqual(md["annotations"], tc.wantAnnot) {
				t.Errorf("annotations %v, want %v", md["annotations"], tc.wantAnnot)
			}
			if got := ownerUIDs(md); !reflect.DeepEqual(got, tc.wantOwners) {
				t.Errorf("owner UIDs %v, want %v", got, tc.wantOwners)
			}
			if spec := jsonMap(t, out)["spec"]; !reflect.DeepEqual(spec, jsonMap(t, []byte(tc.in))["spec"]) {
				t.Errorf("spec changed: %v", spec)
			}
		})
	}
}

// What object does, undo takes back.
func TestDecoratorUndoInvertsObject(t *testing.T) {
	d := decorator{owners: testOwners}
	in := replicaSet(`{"team":"shop"}`, "["+ownerRef("apps/v1", "Deployment", "web", "copy-uid-1")+"]")
	pos := versions{"member1": "4711", "member2": "12"}.encode()
	viewed, err := d.object("member1", []byte(in), pos)
	if err != nil {
		t.Fatal(err)
	}
	back, err := d.undo("member1", viewed)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonMap(t, back), jsonMap(t, []byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("undo(object(x)) != x:\n got %v\nwant %v", got, want)
	}
}

func TestDecoratorUndoPassesNonJSON(t *testing.T) {
	for _, in := range [][]byte{
		[]byte("k8s\x00\x0a\x0c\x0a\x02v1\x12\x03Pod"), // protobuf
		[]byte(`["not","an","object"]`),
		[]byte(""),
		[]byte("name: web\nkind: Pod\n"), // YAML
	} {
		out, err := (decorator{owners: testOwners}).undo("member1", in)
		if err != nil || string(out) != string(in) {
			t.Errorf("undo(%q) = %q, %v; want it unchanged", in, out, err)
		}
	}
}

func TestDecoratorUndoRejectsBadComposite(t *testing.T) {
	in := strings.Replace(replicaSet("", ""), `"4711"`, `"fg1.***"`, 1)
	if out, err := (decorator{}).undo("member1", []byte(in)); err == nil {
		t.Errorf("undo with a resourceVersion the gateway did not issue = %s, want an error", out)
	}
}
