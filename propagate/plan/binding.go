package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxNameLength is the longest object name the host accepts.
const maxNameLength = 253

// BindingName is the name of a template's ResourceBinding (or ClusterResourceBinding), as Karmada
// names them: lower-case "<name>-<kind>". A name that would be too long keeps a prefix and ends with
// a hash of the full name, so it stays unique.
func BindingName(kind, name string) string {
	n := strings.ToLower(name + "-" + kind)
	if len(n) <= maxNameLength {
		return n
	}
	sum := sha256.Sum256([]byte(n))
	h := hex.EncodeToString(sum[:])[:16]
	return strings.TrimRight(n[:maxNameLength-len(h)-1], "-.") + "-" + h
}
