package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestCRDsMatchAPIs fails when deploy/crds is not a copy of apis/crds (what the gateway installs at
// start): the same files, byte for byte, and a kustomization listing exactly them.
func TestCRDsMatchAPIs(t *testing.T) {
	const fix = "run `make generate` (hack/generate.sh copies apis/crds into deploy/crds)"
	apis, err := filepath.Glob(filepath.Join("..", "apis", "crds", "*.yaml"))
	if err != nil || len(apis) == 0 {
		t.Fatalf("no CRDs in apis/crds (%v)", err)
	}
	var want []string
	for _, src := range apis {
		name := filepath.Base(src)
		want = append(want, name)
		a, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		d, err := os.ReadFile(filepath.Join(CRDs, name))
		if err != nil {
			t.Errorf("deploy/crds/%s is missing: %s", name, fix)
			continue
		}
		if !bytes.Equal(a, d) {
			t.Errorf("deploy/crds/%s differs from apis/crds/%s: %s", name, name, fix)
		}
	}
	have, err := filepath.Glob(filepath.Join(CRDs, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range have {
		name := filepath.Base(p)
		if name != "kustomization.yaml" && !slices.Contains(want, name) {
			t.Errorf("deploy/crds/%s is not in apis/crds: %s", name, fix)
		}
	}
	data, err := os.ReadFile(filepath.Join(CRDs, "kustomization.yaml"))
	if err != nil {
		t.Fatalf("deploy/crds/kustomization.yaml: %v; %s", err, fix)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatalf("deploy/crds/kustomization.yaml: %v", err)
	}
	if !slices.Equal(k.Resources, want) {
		t.Errorf("deploy/crds/kustomization.yaml lists %s, apis/crds holds %s: %s",
			strings.Join(k.Resources, ", "), strings.Join(want, ", "), fix)
	}
}
