package override

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// applyField patches the JSON or YAML document held in the string at o.FieldPath and writes it
// back in the same format. When both json and yaml are given, yaml is used (as Karmada does;
// validation rejects the combination); with neither, nothing changes.
func applyField(obj *unstructured.Unstructured, o *policyv1alpha1.FieldOverrider) error {
	p, err := parsePointer(o.FieldPath)
	if err != nil {
		return err
	}
	v, err := p.get(obj.Object)
	if err != nil {
		return err
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("fieldPath %q is not a string", p.raw)
	}
	var out string
	switch {
	case len(o.YAML) > 0:
		ops := make([]docOp, len(o.YAML))
		for i, op := range o.YAML {
			ops[i] = docOp{op.SubPath, op.Operator, op.Value}
		}
		out, err = patchYAML(s, ops)
	case len(o.JSON) > 0:
		ops := make([]docOp, len(o.JSON))
		for i, op := range o.JSON {
			ops[i] = docOp{op.SubPath, op.Operator, op.Value}
		}
		out, err = patchJSON(s, ops)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	_, err = p.patch(obj.Object, policyv1alpha1.OverriderOpReplace, out)
	return err
}

// docOp is one JSON-patch operation inside a document, from either a JSONPatchOperation or a
// YAMLPatchOperation.
type docOp struct {
	subPath  string
	operator policyv1alpha1.OverriderOperator
	value    policyv1alpha1.JSON
}

func patchJSON(s string, ops []docOp) (string, error) {
	doc, err := decodeDoc([]byte(s))
	if err != nil {
		return "", fmt.Errorf("the field does not hold a JSON document: %w", err)
	}
	if doc, err = patchDoc(doc, ops, "json"); err != nil {
		return "", err
	}
	b, err := encodeDoc(doc)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func patchYAML(s string, ops []docOp) (string, error) {
	j, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		return "", fmt.Errorf("the field does not hold a YAML document: %w", err)
	}
	doc, err := decodeDoc(j)
	if err != nil {
		return "", fmt.Errorf("the field does not hold a YAML document: %w", err)
	}
	if doc, err = patchDoc(doc, ops, "yaml"); err != nil {
		return "", err
	}
	if j, err = encodeDoc(doc); err != nil {
		return "", err
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		return "", fmt.Errorf("encode YAML: %w", err)
	}
	return string(y), nil
}

func patchDoc(doc any, ops []docOp, kind string) (any, error) {
	for i, op := range ops {
		p, err := parsePointer(op.subPath)
		if err != nil {
			return nil, &subOpError{kind, i, err}
		}
		var value any
		if op.operator != policyv1alpha1.OverriderOpRemove {
			if len(op.value.Raw) == 0 {
				return nil, &subOpError{kind, i, errors.New("value is required for add and replace")}
			}
			if value, err = decodeDoc(op.value.Raw); err != nil {
				return nil, &subOpError{kind, i, fmt.Errorf("value is not valid JSON: %w", err)}
			}
		}
		if doc, err = p.patch(doc, op.operator, value); err != nil {
			return nil, &subOpError{kind, i, err}
		}
	}
	return doc, nil
}

// decodeDoc decodes one JSON value, keeping numbers as written (json.Number).
func decodeDoc(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// encodeDoc encodes compact JSON without HTML escaping.
func encodeDoc(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
