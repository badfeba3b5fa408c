// Package codegen pins the code generators that hack/generate.sh runs (deepcopy-gen and
// controller-gen, as tool directives in go.mod) and verifies their output: its tests check the
// generated CRDs in apis/crds with the real apiextensions-apiserver validation (valid, structural,
// valid defaults) and validate, prune and default the sample manifests of apis/scheme/testdata
// against them. It is a module of its own so that none of this reaches fleetgate's build.
package codegen
