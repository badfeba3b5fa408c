package plan

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func equalJSON(t *testing.T, a, b *unstructured.Unstructured) bool {
	t.Helper()
	x, _ := json.Marshal(a.Object)
	y, _ := json.Marshal(b.Object)
	return string(x) == string(y)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
