#!/usr/bin/env bash
# Builds the real Kubernetes binaries (and the Helm 3 CLI and cert-manager's CA-signing controllers) that
# tests and `fleetgate up` run, into $BIN (default ../../bin).
# Incremental: a binary is rebuilt only when it is missing or older than the go.mod that pins it, than
# this script, or than a .go file of that module's own directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${BIN:-$here/../../bin}
mkdir -p "$bin"
bin=$(cd "$bin" && pwd)
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

k8s_version=v1.37.2
build_date=2026-01-01T00:00:00Z
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=37"
  ldflags+=" -X $pkg.gitCommit=fleetgate-tools -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

# Helm's own Makefile sets these: its version, and the Kubernetes version it assumes when no
# cluster is asked (helm template / lint), from the client-go it is built with (v0.37 → 1.37).
helm_version=v3.22.0
helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=37"
done

# cert-manager's version, in its user agent (as its Makefile sets it); certmanager/go.mod pins the same.
certmanager_version=v1.21.2
certmanager_ldflags="-X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$certmanager_version"

build() { # build <module dir> <output name> <package> [ldflags]
  local dir=$1 out=$2 pkg=$3 flags=${4:-} dep fresh=0
  if [ -x "$bin/$out" ]; then
    fresh=1
    # The module's own .go files count too (certmanager/main.go); an unmatched glob stays literal.
    for dep in "$dir/go.mod" "$here/build.sh" "$dir"/*.go; do
      if [ -e "$dep" ] && ! [ "$bin/$out" -nt "$dep" ]; then fresh=0; fi
    done
  fi
  if [ "$fresh" = 1 ]; then
    return 0
  fi
  echo "building $out ($pkg)"
  (cd "$dir" && go build -trimpath -ldflags "-s -w $flags" -o "$bin/$out.tmp" "$pkg")
  mv "$bin/$out.tmp" "$bin/$out"
}

build "$here" etcd go.etcd.io/etcd/server/v3
build "$here/kwok" kwok sigs.k8s.io/kwok/cmd/kwok
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build "$here" "$c" "k8s.io/kubernetes/cmd/$c" "$ldflags"
done
build "$here/helm" helm helm.sh/helm/v3/cmd/helm "$helm_ldflags"
# cert-manager's clusterissuers, certificaterequests-approver and certificaterequests-issuer-ca
# controllers, run by our own main (certmanager/main.go: cert-manager's cmd/controller module is not served).
build "$here/certmanager" cert-manager-controller . "$certmanager_ldflags"
