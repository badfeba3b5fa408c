// Package envtest owns the go-test entry point to localenv: ForTest starts an environment for one test
// and tears it down with the test. It does not skip: tests that must stay binary-free check
// testing.Short() themselves before calling it.
package envtest
