package reconcile_test

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/apis/client"
	"github.com/fleetgate/fleetgate/bootstrap/access"
	"github.com/fleetgate/fleetgate/propagate/cache"
	"github.com/fleetgate/fleetgate/propagate/member"
	"github.com/fleetgate/fleetgate/propagate/reconcile"
)

// The gateway runs one reconciler over the cache it shares with the write pipeline; the
// pipeline's dispatch step calls Enqueue once it wrote (or failed to write) to the members.
func Example() {
	var hostConfig *rest.Config // the gateway's host credential
	ctx := context.Background()

	cfg := rest.CopyConfig(hostConfig)
	cfg.QPS, cfg.Burst = 500, 1000 // a restart rewrites thousands of bindings
	host := dynamic.NewForConfigOrDie(cfg)
	kube := kubernetes.NewForConfigOrDie(cfg)
	shared := cache.New(host)
	getter := access.NewHost(client.Clusters(host), kube)
	getter.QPS, getter.Burst = reconcile.DefaultMemberQPS, reconcile.DefaultMemberBurst

	r := reconcile.New(reconcile.Options{
		Host:    host,
		Kube:    kube,
		Cache:   shared,
		Members: member.NewClients(getter),
	})
	go func() { _ = r.Run(ctx) }()

	// In the write pipeline's handoff, after the commit: the reconciler writes the
	// members and the write returns once the Ready ones have their copies (or after 2s).
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	committed := &unstructured.Unstructured{} // the host's answer to the write
	committed.SetAPIVersion("v1")
	committed.SetKind("ConfigMap")
	committed.SetNamespace("default")
	committed.SetName("web-config")
	committed.SetResourceVersion("42")
	_ = r.Handoff(dctx, reconcile.Key{Kind: schema.GroupKind{Kind: "ConfigMap"}, Namespace: "default", Name: "web-config"}, committed, nil)
}
