#!/usr/bin/env bash
# Regenerates everything derived from the API types in apis/:
#   - zz_generated.deepcopy.go in each API package (k8s.io/code-generator deepcopy-gen), and
#   - the CRD manifests apis/crds/*.yaml (sigs.k8s.io/controller-tools controller-gen), from the
#     +kubebuilder markers and doc comments on the types.
# Both generators are pinned as `tool` directives in hack/codegen/go.mod, a module separate from the
# root one, and are built into _output/codegen (incremental through the Go build cache).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

API_PACKAGES=(apis/cluster/v1alpha1 apis/policy/v1alpha1 apis/work/v1alpha2)
CRD_DIR=apis/crds
BIN="${ROOT}/_output/codegen"

mkdir -p "${BIN}"
(cd hack/codegen && go build -o "${BIN}/" tool)

echo "deepcopy-gen: ${API_PACKAGES[*]}"
pkgs=()
for p in "${API_PACKAGES[@]}"; do
	rm -f "${p}/zz_generated.deepcopy.go"
	pkgs+=("./${p}")
done
"${BIN}/deepcopy-gen" \
	--go-header-file hack/codegen/boilerplate.go.txt \
	--output-file zz_generated.deepcopy.go \
	"${pkgs[@]}"

echo "controller-gen: ${CRD_DIR}/*.yaml"
rm -f "${CRD_DIR}"/*.yaml
paths="$(IFS=,; echo "${pkgs[*]}")"
"${BIN}/controller-gen" \
	crd:crdVersions=v1 \
	"paths={${paths}}" \
	"output:crd:dir=${CRD_DIR}"

echo "verify: CRDs valid and structural, samples admitted (hack/codegen tests)"
(cd hack/codegen && go test -count=1 ./...)
