package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/localenv"
)

var overridePoliciesGVR = schema.GroupVersionResource{Group: "policy.karmada.io", Version: "v1alpha1", Resource: "overridepolicies"}

// overridesBench measures the end-to-end latency of a Deployment create through the gateway to two
// members with five matching OverridePolicies against none, alternating the two.
func overridesBench(ctx context.Context, o options, out io.Writer) error {
	_, gw, stop, err := twoMembers(ctx, "fleetgate-bench-ops-")
	if err != nil {
		return err
	}
	defer stop()
	for _, ns := range []string{"bench-none", "bench-ops"} {
		if err := setupNamespace(ctx, gw, ns, nil); err != nil {
			return err
		}
	}
	for i := range 5 {
		op := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "policy.karmada.io/v1alpha1", "kind": "OverridePolicy",
			"metadata": map[string]any{"name": fmt.Sprintf("op-%d", i), "namespace": "bench-ops"},
			"spec": map[string]any{
				"resourceSelectors": []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment"}},
				"overrideRules": []any{map[string]any{"overriders": map[string]any{
					"imageOverrider":  []any{map[string]any{"component": "Tag", "operator": "replace", "value": fmt.Sprintf("1.%d", i)}},
					"labelsOverrider": []any{map[string]any{"operator": "add", "value": map[string]any{fmt.Sprintf("op-%d", i): "yes"}}},
					"plaintext":       []any{map[string]any{"path": "/spec/revisionHistoryLimit", "operator": "replace", "value": i + 1}},
				}}},
			},
		}}
		if _, err := gw.dyn.Resource(overridePoliciesGVR).Namespace("bench-ops").Create(ctx, op, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	var none, ops []time.Duration
	for r := 0; r < o.rounds; r++ {
		for i := 0; i < o.creates; i++ {
			name := fmt.Sprintf("d-%d-%d", r, i)
			a, err := timeCreate(ctx, gw.kube, "bench-none", name)
			if err != nil {
				return err
			}
			b, err := timeCreate(ctx, gw.kube, "bench-ops", name)
			if err != nil {
				return err
			}
			none, ops = append(none, a), append(ops, b)
		}
	}
	fmt.Fprintf(out, "\ncreate through the gateway to 2 members: no OverridePolicy p50 %s p99 %s; 5 OverridePolicies p50 %s p99 %s; p50 ratio %.2f\n",
		round(pct(none, 50)), round(pct(none, 99)), round(pct(ops, 50)), round(pct(ops, 99)), ratio(pct(ops, 50), pct(none, 50)))
	return nil
}

// twoMembers starts an environment with the gateway and two bare members joined through it, and
// waits until both are Ready. stop tears it down.
func twoMembers(ctx context.Context, dirPrefix string) (env *localenv.Env, gw *clients, stop func(), err error) {
	return withMembers(ctx, dirPrefix, 2, 2)
}

// withMembers starts an environment with the gateway (gatewayArgs appended to its command line) and
// n bare members, joins the first joined of them through it and waits until they are Ready. stop
// tears it down.
func withMembers(ctx context.Context, dirPrefix string, n, joined int, gatewayArgs ...string) (env *localenv.Env, gw *clients, stop func(), err error) {
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, nil, nil, err
	}
	env, err = localenv.Start(ctx, localenv.Options{Dir: dir, Gateway: true, GatewayArgs: gatewayArgs, Members: make([]localenv.MemberOptions, n), Out: os.Stderr})
	if err != nil {
		localenv.TailLogs(os.Stderr, dir, 40)
		_ = os.RemoveAll(dir)
		return nil, nil, nil, err
	}
	stop = func() { _ = env.Stop(); _ = os.RemoveAll(dir) }
	if gw, err = clientsFor(env.GatewayConfig); err == nil {
		err = joinMembers(ctx, env, gw, 0, joined)
	}
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return env, gw, stop, nil
}

// joinMembers joins env.Members[from:to] through the gateway and waits until to clusters are Ready.
func joinMembers(ctx context.Context, env *localenv.Env, gw *clients, from, to int) error {
	for _, m := range env.Members[from:to] {
		if err := bootstrap.Join(ctx, bootstrap.JoinOptions{Name: m.Name, Host: env.GatewayConfig, MemberKubeconfig: m.Kubeconfig}); err != nil {
			return err
		}
	}
	return waitReady(ctx, gw.dyn, to)
}
