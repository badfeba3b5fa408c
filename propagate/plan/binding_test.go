package plan

import (
	"strings"
	"testing"
)

func TestBindingName(t *testing.T) {
	if got := BindingName("Deployment", "nginx"); got != "nginx-deployment" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("a", 250)
	a, b := BindingName("Deployment", long), BindingName("Deployment", long+"b")
	if len(a) > 253 || len(b) > 253 || a == b {
		t.Errorf("long names: %q (%d), %q (%d)", a, len(a), b, len(b))
	}
	if BindingName("Deployment", long) != a {
		t.Error("not deterministic")
	}
}
