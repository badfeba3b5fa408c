package reconcile_test

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/bootstrap"
)

// templateGone says whether ConfigMap ns/name is gone from the host.
func (e *testEnv) templateGone(ns, name string) error {
	cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("template %s/%s still there (finalizers %v)", ns, name, cm.Finalizers)
}

func (e *testEnv) deleteConfigMap(t *testing.T, ns, name string) {
	t.Helper()
	if err := e.kube.CoreV1().ConfigMaps(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// stopMember stops a member's apiserver and returns a function that starts it again (also run at
// the end of the test).
func (e *testEnv) stopMember(t *testing.T, name string) (start func()) {
	t.Helper()
	ctx := context.Background()
	m := e.env.Member(name)
	if err := m.StopAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	started := false
	start = func() {
		if started {
			return
		}
		started = true
		if err := m.StartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(start)
	return start
}

// Deleting a template while a member is down keeps it Terminating until the member is back.
func TestDeleteWaitsForDownMember(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "down"
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns))
	e.createConfigMap(t, ns, "held", map[string]string{"k": "v"})
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "held-configmap", "member1", "member2") })

	start := e.stopMember(t, "member2")
	e.deleteConfigMap(t, ns, "held")
	eventually(t, waitLong, func() error { return e.noCopy("member1", configMaps, ns, "held") })
	cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "held", metav1.GetOptions{})
	if err != nil || cm.DeletionTimestamp == nil {
		t.Fatalf("template should be Terminating while member2 is down: %v %v", cm, err)
	}
	start()
	eventually(t, waitLong, func() error {
		if err := e.noCopy("member2", configMaps, ns, "held"); err != nil {
			return err
		}
		return e.templateGone(ns, "held")
	})
}

// Unjoining the unreachable cluster lets the deletion finish; the copy it still holds is swept
// when it joins again.
func TestUnjoinedClusterNoLongerBlocksDeletion(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "unjoin"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns))
	e.createConfigMap(t, ns, "stuck", map[string]string{"k": "v"})
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "stuck-configmap", "member1", "member2") })

	start := e.stopMember(t, "member2")
	e.deleteConfigMap(t, ns, "stuck")
	eventually(t, waitLong, func() error { return e.noCopy("member1", configMaps, ns, "stuck") })
	if err := e.templateGone(ns, "stuck"); err == nil {
		t.Fatal("template deleted while member2 (still joined) is down")
	}
	if err := bootstrap.Unjoin(ctx, bootstrap.UnjoinOptions{Name: "member2", Host: e.env.Host.Config, Force: true}); err != nil {
		t.Fatal(err)
	}
	rejoined := false
	t.Cleanup(func() { // later tests need member2 joined
		if !rejoined {
			start()
			e.rejoin(t, "member2")
		}
	})
	eventually(t, waitLong, func() error { return e.templateGone(ns, "stuck") })

	start()
	e.rejoin(t, "member2")
	rejoined = true
	eventually(t, waitLong, func() error { return e.noCopy("member2", configMaps, ns, "stuck") })
}

// rejoin joins a member again after a forced unjoin, removing first what that unjoin left in the
// member (bootstrap.Join does not adopt service accounts).
func (e *testEnv) rejoin(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	m := e.env.Member(name)
	kube, err := kubernetes.NewForConfig(m.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, sa := range []string{"fleetgate-propagator", "fleetgate-impersonator"} {
		if err := kube.CoreV1().ServiceAccounts("kube-system").Delete(ctx, sa, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	if err := kube.RbacV1().ClusterRoles().Delete(ctx, "fleetgate:impersonator", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if err := bootstrap.Join(ctx, bootstrap.JoinOptions{Name: name, Host: e.env.Host.Config, MemberKubeconfig: m.Kubeconfig}); err != nil {
		t.Fatal(err)
	}
	if err := e.waitReady(ctx, name, true); err != nil {
		t.Fatal(err)
	}
}

// A reconciler started after changes made while none ran converges: new, changed and deleted
// templates; an unchanged template costs neither a member write nor a binding write.
func TestRestartConverges(t *testing.T) {
	e := sharedEnv(t)
	stop := e.startController(t)
	const ns = "restart"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns))
	for _, n := range []string{"a", "b", "c"} {
		e.createConfigMap(t, ns, n, map[string]string{"k": "v1"})
	}
	eventually(t, waitLong, func() error {
		for _, n := range []string{"a", "b", "c"} {
			if err := e.fullyApplied(t, ns, n+"-configmap", "member1", "member2"); err != nil {
				return err
			}
		}
		return nil
	})
	stop()

	b, err := e.binding(t, ns, "b-configmap")
	if err != nil {
		t.Fatal(err)
	}
	copyRV := map[string]string{}
	for _, m := range []string{"member1", "member2"} {
		u, err := e.memberObject(m, configMaps, ns, "b")
		if err != nil || u == nil {
			t.Fatal(m, u, err)
		}
		copyRV[m] = u.GetResourceVersion()
	}
	e.createConfigMap(t, ns, "d", map[string]string{"k": "v1"})
	if _, err := e.kube.CoreV1().ConfigMaps(ns).Patch(ctx, "a", types.MergePatchType, []byte(`{"data":{"k":"v2"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.deleteConfigMap(t, ns, "c")

	e.startController(t)
	eventually(t, waitLong, func() error {
		for _, m := range []string{"member1", "member2"} {
			if err := e.hasCopy(m, configMaps, ns, "d", "k", "v1"); err != nil {
				return err
			}
			if err := e.hasCopy(m, configMaps, ns, "a", "k", "v2"); err != nil {
				return err
			}
			if err := e.noCopy(m, configMaps, ns, "c"); err != nil {
				return err
			}
		}
		if err := e.fullyApplied(t, ns, "d-configmap", "member1", "member2"); err != nil {
			return err
		}
		return e.templateGone(ns, "c")
	})
	b2, err := e.binding(t, ns, "b-configmap")
	if err != nil {
		t.Fatal(err)
	}
	if b2.ResourceVersion != b.ResourceVersion {
		t.Errorf("binding of the unchanged template was written: resourceVersion %s → %s", b.ResourceVersion, b2.ResourceVersion)
	}
	for _, m := range []string{"member1", "member2"} {
		u, err := e.memberObject(m, configMaps, ns, "b")
		if err != nil || u == nil {
			t.Fatal(m, u, err)
		}
		if u.GetResourceVersion() != copyRV[m] {
			t.Errorf("%s: copy of the unchanged template was written", m)
		}
	}
}

// A copy whose template vanished (finalizer removed by hand) while no reconciler ran is swept.
func TestOrphanSweep(t *testing.T) {
	e := sharedEnv(t)
	stop := e.startController(t)
	const ns = "orphan"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	e.policy(t, configMapPolicy(ns))
	e.createConfigMap(t, ns, "lost", map[string]string{"k": "v"})
	eventually(t, waitLong, func() error { return e.fullyApplied(t, ns, "lost-configmap", "member1", "member2") })
	stop()

	if _, err := e.kube.CoreV1().ConfigMaps(ns).Patch(ctx, "lost", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.deleteConfigMap(t, ns, "lost")
	// The host's garbage collector would remove the binding (its owner is gone), on its own time.
	if err := e.host.Resource(rbGVR).Namespace(ns).Delete(ctx, "lost-configmap", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	e.startController(t)
	eventually(t, waitLong, func() error {
		for _, m := range []string{"member1", "member2"} {
			if err := e.noCopy(m, configMaps, ns, "lost"); err != nil {
				return err
			}
		}
		return nil
	})
}

// propagateDeps carries the ConfigMap and Secret a Deployment references, with attached
// bindings; they go when the Deployment is released (its policy deleted).
func TestPropagateDeps(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	const ns = "deps"
	ctx := context.Background()
	e.namespace(t, ns, nil)
	e.createConfigMap(t, ns, "cfg", map[string]string{"k": "v"})
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec", Namespace: ns}, StringData: map[string]string{"p": "w"}}
	if _, err := e.kube.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10",
						EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}}}}}},
					Volumes: []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}},
				},
			},
		},
	}
	if _, err := e.kube.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pp := &policyv1alpha1.PropagationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}
	pp.Spec.ResourceSelectors = []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}
	pp.Spec.PropagateDeps = true
	e.policy(t, pp)

	deployments := appsv1.SchemeGroupVersion.WithResource("deployments")
	secrets := corev1.SchemeGroupVersion.WithResource("secrets")
	eventually(t, waitLong, func() error {
		for _, m := range []string{"member1", "member2"} {
			if err := e.hasCopy(m, deployments, ns, "web", "", ""); err != nil {
				return err
			}
			if err := e.hasCopy(m, configMaps, ns, "cfg", "k", "v"); err != nil {
				return err
			}
			if err := e.hasCopy(m, secrets, ns, "sec", "", ""); err != nil {
				return err
			}
		}
		b, err := e.binding(t, ns, "cfg-configmap")
		if err != nil {
			return err
		}
		if len(b.Spec.RequiredBy) != 1 || b.Spec.RequiredBy[0].Name != "web-deployment" || len(b.Spec.RequiredBy[0].Clusters) != 2 {
			return fmt.Errorf("cfg binding requiredBy %+v", b.Spec.RequiredBy)
		}
		return e.fullyApplied(t, ns, "sec-secret", "member1", "member2")
	})

	if err := e.host.Resource(ppGVR).Namespace(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() error {
		for _, m := range []string{"member1", "member2"} {
			for _, c := range []struct {
				gvr  schema.GroupVersionResource
				name string
			}{{deployments, "web"}, {configMaps, "cfg"}, {secrets, "sec"}} {
				if err := e.noCopy(m, c.gvr, ns, c.name); err != nil {
					return err
				}
			}
		}
		if _, err := e.binding(t, ns, "cfg-configmap"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("cfg binding still there (%v)", err)
		}
		return nil
	})
	// The templates stay in the host, unclaimed and without finalizer.
	d, err := e.kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || len(d.Finalizers) != 0 || d.Annotations[policyv1alpha1.PropagationPolicyNameAnnotation] != "" {
		t.Errorf("workload after release: %v %v", d, err)
	}
	cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(ctx, "cfg", metav1.GetOptions{})
	if err != nil || len(cm.Finalizers) != 0 {
		t.Errorf("dependency after release: %v %v", cm, err)
	}
}

// Host namespaces are created on every member unless labelled to skip; deleting one in the host
// deletes fleetgate's copies.
func TestNamespaceAutoCreation(t *testing.T) {
	e := sharedEnv(t)
	e.startController(t)
	ctx := context.Background()
	e.namespace(t, "auto-skip", map[string]string{policyv1alpha1.NamespaceSkipAutoPropagationLabel: "true"})
	e.namespace(t, "auto-a", nil)
	eventually(t, waitLong, func() error {
		for _, m := range []string{"member1", "member2"} {
			if err := e.hasCopy(m, namespaces, "", "auto-a", "", ""); err != nil {
				return err
			}
		}
		return nil
	})
	for _, m := range []string{"member1", "member2"} {
		if u, err := e.memberObject(m, namespaces, "", "auto-skip"); err != nil || u != nil {
			t.Errorf("%s: namespace auto-skip was created (%v)", m, err)
		}
	}
	if err := e.kube.CoreV1().Namespaces().Delete(ctx, "auto-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() error {
		for _, m := range []string{"member1", "member2"} {
			if err := e.noCopy(m, namespaces, "", "auto-a"); err != nil {
				return err
			}
		}
		return nil
	})
}
