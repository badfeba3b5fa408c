package v1alpha1

import (
	"encoding/json"
	"testing"
)

func TestJSON(t *testing.T) {
	tests := []struct {
		name, in, out string // in: a PlaintextOverrider; out: it encoded again
		wantRaw       string
	}{
		{"object", `{"path":"/a","operator":"add","value":{"k":[1,"x"]}}`, `{"path":"/a","operator":"add","value":{"k":[1,"x"]}}`, `{"k":[1,"x"]}`},
		{"string", `{"path":"/a","operator":"replace","value":"1.20"}`, `{"path":"/a","operator":"replace","value":"1.20"}`, `"1.20"`},
		{"number", `{"path":"/a","operator":"replace","value":3}`, `{"path":"/a","operator":"replace","value":3}`, `3`},
		{"false", `{"path":"/a","operator":"replace","value":false}`, `{"path":"/a","operator":"replace","value":false}`, `false`},
		{"absent", `{"path":"/a","operator":"remove"}`, `{"path":"/a","operator":"remove"}`, ``},
		{"null is absent", `{"path":"/a","operator":"remove","value":null}`, `{"path":"/a","operator":"remove"}`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o PlaintextOverrider
			if err := json.Unmarshal([]byte(tt.in), &o); err != nil {
				t.Fatal(err)
			}
			if string(o.Value.Raw) != tt.wantRaw {
				t.Errorf("Raw = %q, want %q", o.Value.Raw, tt.wantRaw)
			}
			if o.Value.IsZero() != (tt.wantRaw == "") {
				t.Errorf("IsZero() = %v", o.Value.IsZero())
			}
			out, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.out {
				t.Errorf("encoded %s, want %s", out, tt.out)
			}
		})
	}
	if b, _ := json.Marshal(JSON{}); string(b) != "null" {
		t.Errorf("empty JSON encodes as %s, want null", b)
	}
}

func TestJSONDoesNotAliasInput(t *testing.T) {
	in := []byte(`{"a":1}`)
	var j JSON
	if err := j.UnmarshalJSON(in); err != nil {
		t.Fatal(err)
	}
	in[1] = 'X'
	if string(j.Raw) != `{"a":1}` {
		t.Errorf("Raw changed with the input: %s", j.Raw)
	}
}
