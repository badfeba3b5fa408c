package chaos

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// A view is what a template dictates of its member copies, flattened to path → JSON value: the
// labels and annotations other than bookkeeping, and every top-level field but apiVersion, kind,
// metadata and status (a ConfigMap's data and binaryData, a Deployment's spec). The same function
// applied to a template and to a copy must give the same view when the copy is right.
type view map[string]string

// bookkeepingKeys are labels and annotations that describe how an object got where it is, not what
// it is: fleetgate's and Karmada's marks (any key under fleetgate.io or karmada.io), kubectl's
// client-side-apply record and a member Deployment controller's revision.
var bookkeepingKeys = map[string]bool{
	"kubectl.kubernetes.io/last-applied-configuration": true,
	"deployment.kubernetes.io/revision":                true,
}

func bookkeeping(key string) bool {
	if bookkeepingKeys[key] {
		return true
	}
	domain, _, ok := strings.Cut(key, "/")
	if !ok {
		return false
	}
	for _, d := range []string{"fleetgate.io", "karmada.io"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

// viewOf computes the view of a template or a copy.
func viewOf(u *unstructured.Unstructured) view {
	v := view{}
	for k, val := range u.GetLabels() {
		if !bookkeeping(k) {
			v[pathOf("metadata.labels", k)] = strconv.Quote(val)
		}
	}
	for k, val := range u.GetAnnotations() {
		if !bookkeeping(k) {
			v[pathOf("metadata.annotations", k)] = strconv.Quote(val)
		}
	}
	for f, val := range u.Object {
		switch f {
		case "apiVersion", "kind", "metadata", "status":
			continue
		}
		flatten(v, f, val)
	}
	return v
}

func flatten(v view, prefix string, val any) {
	switch x := val.(type) {
	case map[string]any:
		if len(x) == 0 {
			v[prefix] = "{}"
		}
		for k, e := range x {
			flatten(v, pathOf(prefix, k), e)
		}
	case []any:
		if len(x) == 0 {
			v[prefix] = "[]"
		}
		for i, e := range x {
			flatten(v, fmt.Sprintf("%s[%d]", prefix, i), e)
		}
	default:
		b, err := json.Marshal(x)
		if err != nil {
			b = []byte(fmt.Sprintf("%v", x))
		}
		v[prefix] = string(b)
	}
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// pathOf is prefix.key, or prefix["key"] for keys with dots or slashes (most labels).
func pathOf(prefix, key string) string {
	if plainKey.MatchString(key) {
		return prefix + "." + key
	}
	return prefix + "[" + strconv.Quote(key) + "]"
}

func (v view) keys() []string {
	ks := make([]string, 0, len(v))
	for k := range v {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// hash is a short digest of the view, to name a content in one word.
func (v view) hash() string {
	h := sha256.New()
	for _, k := range v.keys() {
		fmt.Fprintf(h, "%s=%s\n", k, v[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// diff lists, path by path, where found differs from want.
func (want view) diff(found view) []string {
	all := view{}
	for k := range want {
		all[k] = ""
	}
	for k := range found {
		all[k] = ""
	}
	var out []string
	for _, k := range all.keys() {
		w, wok := want[k]
		f, fok := found[k]
		if wok && fok && w == f {
			continue
		}
		out = append(out, fmt.Sprintf("%s: expected %s, found %s", k, orNone(w, wok), orNone(f, fok)))
	}
	return out
}

// summary is the first lines of the view, for an absent copy.
func (v view) summary(max int) []string {
	var out []string
	for i, k := range v.keys() {
		if i == max {
			out = append(out, fmt.Sprintf("… %d more fields", len(v)-max))
			break
		}
		out = append(out, fmt.Sprintf("%s = %s", k, clip(v[k])))
	}
	return out
}

func orNone(s string, ok bool) string {
	if !ok {
		return "<none>"
	}
	return clip(s)
}

func clip(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
