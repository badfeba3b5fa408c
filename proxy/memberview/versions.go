package memberview

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// versions is a merged view's position: each member's resourceVersion. Clients see it only as an
// opaque string (encode), the resourceVersion of merged lists and of merged watch events.
type versions map[string]string

// rvPrefix marks a composite resourceVersion; kube-apiserver's own are decimal numbers.
const rvPrefix = "fg1."

func (v versions) encode() string {
	b, _ := json.Marshal(map[string]string(v)) // sorted keys: equal positions encode equally
	return rvPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func (v versions) clone() versions {
	out := make(versions, len(v))
	for k, e := range v {
		out[k] = e
	}
	return out
}

// decodeVersions parses a composite resourceVersion; ok is false when s is not one.
func decodeVersions(s string) (_ versions, ok bool, _ error) {
	if !strings.HasPrefix(s, rvPrefix) {
		return nil, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, rvPrefix))
	if err != nil {
		return nil, true, fmt.Errorf("resourceVersion %q is not one this gateway issued", s)
	}
	var v versions
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, true, fmt.Errorf("resourceVersion %q is not one this gateway issued", s)
	}
	return v, true, nil
}

// cursor is a merged list's continue token: the members still to list, in order, and the list's
// position, which every page reports.
type cursor struct {
	Versions versions      `json:"rv"`
	Pending  []memberToken `json:"m"`
}

// memberToken is where listing one member goes on: its own continue token, or, when empty, from the
// start at the member's resourceVersion in Versions (an exact read, so every page is one snapshot).
type memberToken struct {
	Cluster  string `json:"c"`
	Continue string `json:"t,omitempty"`
}

const continuePrefix = "fg1."

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return continuePrefix + base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	if !strings.HasPrefix(s, continuePrefix) {
		return c, fmt.Errorf("continue token %q is not one this gateway issued", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, continuePrefix))
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || len(c.Pending) == 0 {
		return c, fmt.Errorf("continue token %q is not one this gateway issued", s)
	}
	return c, nil
}
