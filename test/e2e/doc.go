// Package e2e holds fleetgate's black-box tests: real binaries (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok, fleetgate) started by localenv, driven with the real
// kubectl. Each sub-package shares one environment among its tests (TestMain); framework/ has the
// helpers. They do not import fleetgate's internals except localenv and the API types.
package e2e
