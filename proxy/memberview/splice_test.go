package memberview

import (
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// copyOwners knows one managed copy: Deployment ns/web with UID copy-uid in cluster a, whose
// template has UID tmpl-uid.
type copyOwners struct{}

func (copyOwners) TemplateUID(cluster string, gk schema.GroupKind, ns, name string, uid types.UID) (types.UID, bool) {
	if cluster == "a" && gk.String() == "Deployment.apps" && ns == "ns" && name == "web" && uid == "copy-uid" {
		return "tmpl-uid", true
	}
	return "", false
}

func (copyOwners) CopyUID(cluster string, gk schema.GroupKind, ns, name string, template types.UID) (types.UID, bool) {
	if cluster == "a" && gk.String() == "Deployment.apps" && ns == "ns" && name == "web" && template == "tmpl-uid" {
		return "copy-uid", true
	}
	return "", false
}

var spliceCases = map[string]string{
	"no annotations":    `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"ns","resourceVersion":"7"},"spec":{"x":"}{\"]["}}`,
	"annotations":       `{"metadata":{"name":"p","annotations":{"a":"b","c":"{"}},"status":{}}`,
	"empty annotations": `{"metadata":{"annotations":{}}}`,
	"empty metadata":    `{"metadata":{},"spec":[1,2,{"a":[]}]}`,
	"spaces":            " {\n \"metadata\" : { \"name\" : \"p\" , \"annotations\" : { } } , \"x\" : true }\n",
	"owned by a copy":   `{"metadata":{"namespace":"ns","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"copy-uid","controller":true}]}}`,
	"owned by another":  `{"metadata":{"namespace":"ns","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-1","uid":"u"}]}}`,
	"metadata last":     `{"spec":{"metadata":{"name":"inner"}},"metadata":{"name":"outer"}}`,
	"escaped strings":   `{"metadata":{"name":"p\"q","annotations":{"k\\":"v\\\""}}}`,
}

// TestSpliceMatchesDecoding: the splicing path gives what decoding and encoding gives, for every
// case, with and without a resourceVersion to set.
func TestSpliceMatchesDecoding(t *testing.T) {
	d := decorator{owners: copyOwners{}}
	for name, in := range spliceCases {
		for _, rv := range []string{"", "fg1.xyz"} {
			fast, ok := d.fastObject("a", []byte(in), rv)
			if !ok {
				t.Errorf("%s: the splicing path refused it", name)
				continue
			}
			slow, err := d.slowObject("a", []byte(in), rv)
			if err != nil {
				t.Fatal(err)
			}
			var f, s any
			if err := json.Unmarshal(fast, &f); err != nil {
				t.Errorf("%s rv=%q: spliced output is not JSON: %v\n%s", name, rv, err, fast)
				continue
			}
			_ = json.Unmarshal(slow, &s)
			if !reflect.DeepEqual(f, s) {
				t.Errorf("%s rv=%q:\nspliced %s\ndecoded %s", name, rv, fast, slow)
			}
		}
		row := `{"cells":["x",1],"object":` + in + `}`
		fast, ok := d.fastRow("a", []byte(row), "")
		slow, err := d.slowRow("a", []byte(row), "")
		if !ok || err != nil {
			t.Errorf("%s as a row: fast %v, slow %v", name, ok, err)
			continue
		}
		var f, s any
		_ = json.Unmarshal(fast, &f)
		_ = json.Unmarshal(slow, &s)
		if !reflect.DeepEqual(f, s) {
			t.Errorf("%s as a row:\nspliced %s\ndecoded %s", name, fast, slow)
		}
	}
}

// TestSpliceRefusesWhatItCannotDo: these go the decoding way.
func TestSpliceRefusesWhatItCannotDo(t *testing.T) {
	d := decorator{}
	for _, in := range []string{
		`{"metadata":{"annotations":null}}`,
		`{"metadata":{"annotations":{"fleetgate.io/cluster":"b"}}}`,
		`{"kind":"Status"}`,
		`{"metadata":null}`,
		`{"metadata":{"name":"p"`,
	} {
		if out, ok := d.fastObject("a", []byte(in), ""); ok {
			t.Errorf("%s: spliced to %s, want the decoding path", in, out)
		}
	}
}

func FuzzSplice(f *testing.F) {
	for _, in := range spliceCases {
		f.Add([]byte(in))
	}
	d := decorator{owners: copyOwners{}}
	f.Fuzz(func(t *testing.T, in []byte) {
		var v map[string]any
		if json.Unmarshal(in, &v) != nil {
			return
		}
		fast, ok := d.fastObject("a", in, "r")
		if !ok {
			return
		}
		slow, err := d.slowObject("a", in, "r")
		if err != nil {
			return
		}
		var a, b any
		if err := json.Unmarshal(fast, &a); err != nil {
			t.Fatalf("spliced output is not JSON: %v\n%s\nfrom %s", err, fast, in)
		}
		_ = json.Unmarshal(slow, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("from %s\nspliced %s\ndecoded %s", in, fast, slow)
		}
	})
}
