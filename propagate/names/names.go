package names

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Finalizer keeps a propagated template in the host until every member copy is gone.
const Finalizer = "fleetgate.io/propagation"

// FieldManager is the field manager of propagation's writes: templates' claim and finalizer,
// bindings, and member copies.
const FieldManager = "fleetgate"

// bindingHashLength is the length of the hash suffix of a binding name that had to be shortened.
const bindingHashLength = 10

// BindingName is the name of the (Cluster)ResourceBinding of a template of kind with name, as
// Karmada names it: the lower-cased "<name>-<kind>", with ':' (allowed in RBAC names) turned into
// '.'. When that is not a valid object name (too long, or characters a DNS subdomain does not
// allow) the name is shortened and sanitised and a hash of kind and name is appended, so it stays
// unique.
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
