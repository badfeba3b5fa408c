package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Key identifies a template in the host: its group and kind (one key whatever version a policy or
// a client names it by), its namespace (empty for cluster-scoped kinds) and its name. It is what the
// template queue holds.
type Key struct {
	Kind      schema.GroupKind
	Namespace string
	Name      string
}

// KeyFor is the Key of obj, an object of kind gk.
func KeyFor(gk schema.GroupKind, obj metav1.Object) Key {
	return Key{Kind: gk, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// String is "<Kind>[.<group>]/[<namespace>/]<name>", e.g. "Deployment.apps/default/web".
func (k Key) String() string {
	if k.Namespace == "" {
		return k.Kind.String() + "/" + k.Name
	}
	return k.Kind.String() + "/" + k.Namespace + "/" + k.Name
}

// clusterItem is what a member cluster's queue holds: a template whose copy in that cluster must
// be checked, or (Sweep) a sweep of that cluster for the kind Key.Kind (every watched kind when
// Key.Kind is empty).
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
