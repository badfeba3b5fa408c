package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Key identifies a template in the host: its resource, its namespace (empty for cluster-scoped
// kinds) and its name. It is what the template queue holds.
type Key struct {
	Resource  schema.GroupVersionResource
	Namespace string
	Name      string
}

// KeyFor is the Key of obj, an object of resource gvr.
func KeyFor(gvr schema.GroupVersionResource, obj metav1.Object) Key {
	return Key{Resource: gvr, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// String is "<resource>[.<group>]/[<namespace>/]<name>", e.g. "deployments.apps/default/web".
func (k Key) String() string {
	r := k.Resource.Resource
	if k.Resource.Group != "" {
		r += "." + k.Resource.Group
	}
	if k.Namespace == "" {
		return r + "/" + k.Name
	}
	return r + "/" + k.Namespace + "/" + k.Name
}

// clusterItem is what a member cluster's queue holds: a template whose copy in that cluster must
// be checked, or (Sweep) a sweep of that cluster for the kind Key.Resource (every watched kind when
// Key.Resource is empty).
type clusterItem struct {
	Key   Key
	Sweep bool
}

// parseTemplateRef splits a member.AnnotationTemplate value, "<apiVersion>/<kind>/<namespace>/<name>"
// (apiVersion may itself contain a slash).
func parseTemplateRef(ref string) (gvk schema.GroupVersionKind, namespace, name string, ok bool) {
	parts := strings.Split(ref, "/")
	if len(parts) < 4 {
		return gvk, "", "", false
	}
	n := len(parts)
	name, namespace = parts[n-1], parts[n-2]
	gv, err := schema.ParseGroupVersion(strings.Join(parts[:n-3], "/"))
	if err != nil || name == "" || parts[n-3] == "" {
		return gvk, "", "", false
	}
	return gv.WithKind(parts[n-3]), namespace, name, true
}

// bindingHashLength is the length of the hash suffix of a binding name that had to be shortened.
const bindingHashLength = 10

// BindingName is the name of the (Cluster)ResourceBinding of a template, as Karmada names it: the
// lower-cased "<name>-<kind>", with ':' (allowed in RBAC names) turned into '.'. When that is not
// a valid object name (too long, or characters a DNS subdomain does not allow) the name is
// shortened and sanitised and a hash of kind and name is appended, so it stays unique.
func BindingName(kind, name string) string {
	n := strings.ToLower(strings.ReplaceAll(name, ":", ".") + "-" + kind)
	if len(validation.IsDNS1123Subdomain(n)) == 0 {
		return n
	}
	sum := sha256.Sum256([]byte(kind + "/" + name))
	suffix := hex.EncodeToString(sum[:])[:bindingHashLength]
	prefix := sanitize(n)
	if max := validation.DNS1123SubdomainMaxLength - bindingHashLength - 1; len(prefix) > max {
		prefix = strings.TrimRight(prefix[:max], "-.")
	}
	if prefix == "" {
		return "binding-" + suffix
	}
	return prefix + "-" + suffix
}

// sanitize keeps [a-z0-9.-], turns everything else into '-', and trims what may not start or end a
// name.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '-' {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b), "-.")
}

// hashObject is a short, stable digest of a member copy: what was applied to a cluster. JSON of a
// map is written with sorted keys, so equal objects hash equally.
func hashObject(obj *unstructured.Unstructured) string {
	b, err := json.Marshal(obj.Object)
	if err != nil {
		return "" // never equal to a recorded hash: the copy is written again
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
