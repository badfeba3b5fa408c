package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Templates of a loop: the churned ones are created, updated, deleted and recreated by the
// writers; the steady ones are created before the faults and only touched by hand in the members
// (so that drift cannot be hidden by a later template update).
var (
	churnedConfigMaps  = []string{"cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "cm-5", "cm-6", "cm-7"}
	churnedDeployments = []string{"dep-0", "dep-1"}
	steady             = []objKey{{kind: "ConfigMap", name: "steady-cm-0"}, {kind: "ConfigMap", name: "steady-cm-1"}, {kind: "Deployment", name: "steady-dep"}}
)

// writeStats counts a writer's operations.
type writeStats struct{ ok, failed, skipped atomic.Int64 }

func (s *writeStats) String() string {
	return fmt.Sprintf("%d ok, %d failed, %d skipped", s.ok.Load(), s.failed.Load(), s.skipped.Load())
}

// writer writes templates of one namespace through one door: the gateway or the host.
type writer struct {
	via    string
	client kubernetes.Interface
	ns     string
	rng    *rand.Rand // this writer's alone
	gen    int
	stats  writeStats
}

// run writes until ctx ends, a random template at a time, with a short random pause in between.
func (w *writer) run(ctx context.Context) {
	for ctx.Err() == nil {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var err error
		if w.rng.IntN(len(churnedConfigMaps)+len(churnedDeployments)) < len(churnedConfigMaps) {
			err = w.configMap(octx, churnedConfigMaps[w.rng.IntN(len(churnedConfigMaps))])
		} else {
			err = w.deployment(octx, churnedDeployments[w.rng.IntN(len(churnedDeployments))])
		}
		cancel()
		switch {
		case errors.Is(err, errSkipped) || apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err):
			w.stats.skipped.Add(1) // the other writer got there first
		case err != nil:
			w.stats.failed.Add(1) // expected while the gateway or a member is down; the host is the truth
		default:
			w.stats.ok.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(20+w.rng.IntN(180)) * time.Millisecond): // pacing, not a check
		}
	}
}

var errSkipped = errors.New("skipped")

// op picks what to do with an existing template: update, patch or delete.
func (w *writer) op() string {
	switch n := w.rng.IntN(10); {
	case n < 5:
		return "update"
	case n < 7:
		return "patch"
	default:
		return "delete"
	}
}

func (w *writer) next() string {
	w.gen++
	return fmt.Sprintf("%s-%d", w.via, w.gen)
}

func (w *writer) configMap(ctx context.Context, name string) error {
	cms := w.client.CoreV1().ConfigMaps(w.ns)
	cur, err := cms.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns}}
		w.fillConfigMap(cm)
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		return err
	case err != nil:
		return err
	case cur.DeletionTimestamp != nil:
		return errSkipped // recreated once it is gone
	}
	switch w.op() {
	case "update":
		w.fillConfigMap(cur)
		_, err = cms.Update(ctx, cur, metav1.UpdateOptions{})
	case "patch":
		extra := map[string]any{fmt.Sprintf("extra-%d", w.rng.IntN(3)): nil}
		if w.rng.IntN(2) == 0 {
			extra[fmt.Sprintf("extra-%d", w.rng.IntN(3))] = w.next()
		}
		extra["gen"] = w.next()
		body, _ := json.Marshal(map[string]any{"data": extra, "metadata": map[string]any{"labels": map[string]any{"tier": w.pick("a", "b", "c")}}})
		_, err = cms.Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{})
	default:
		err = cms.Delete(ctx, name, metav1.DeleteOptions{})
	}
	return err
}

// fillConfigMap sets new content: data (gen, a payload, sometimes extra keys), sometimes
// binaryData, a label and an annotation that change, and one that comes and goes.
func (w *writer) fillConfigMap(cm *corev1.ConfigMap) {
	cm.Data = map[string]string{"gen": w.next(), "payload": w.payload()}
	for i := range w.rng.IntN(3) {
		cm.Data[fmt.Sprintf("extra-%d", i)] = w.payload()
	}
	cm.BinaryData = nil
	if w.rng.IntN(3) == 0 {
		cm.BinaryData = map[string][]byte{"blob": []byte(w.payload())}
	}
	w.fillMeta(&cm.ObjectMeta)
}

func (w *writer) fillMeta(m *metav1.ObjectMeta) {
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Labels["tier"] = w.pick("a", "b", "c")
	m.Annotations["chaos.example/writer"] = w.via
	if w.rng.IntN(2) == 0 {
		m.Labels["flag"] = "on"
	} else {
		delete(m.Labels, "flag")
	}
}

func (w *writer) deployment(ctx context.Context, name string) error {
	deps := w.client.AppsV1().Deployments(w.ns)
	cur, err := deps.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = deps.Create(ctx, w.newDeployment(name), metav1.CreateOptions{})
		return err
	case err != nil:
		return err
	case cur.DeletionTimestamp != nil:
		return errSkipped
	}
	switch w.op() {
	case "update":
		c := &cur.Spec.Template.Spec.Containers[0]
		c.Image = "registry.example/app:" + w.next()
		c.Env = []corev1.EnvVar{{Name: "GEN", Value: w.next()}}
		cur.Spec.Replicas = ptr.To(int32(1 + w.rng.IntN(3)))
		w.fillMeta(&cur.ObjectMeta)
		_, err = deps.Update(ctx, cur, metav1.UpdateOptions{})
	case "patch":
		body := fmt.Sprintf(`{"metadata":{"annotations":{"chaos.example/note":%q}},"spec":{"replicas":%d}}`, w.next(), 1+w.rng.IntN(3))
		_, err = deps.Patch(ctx, name, types.MergePatchType, []byte(body), metav1.PatchOptions{})
	default:
		err = deps.Delete(ctx, name, metav1.DeleteOptions{})
	}
	return err
}

func (w *writer) newDeployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(1 + w.rng.IntN(3))),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:" + w.next(),
					Env: []corev1.EnvVar{{Name: "GEN", Value: w.next()}},
				}}},
			},
		},
	}
	w.fillMeta(&d.ObjectMeta)
	return d
}

// steadyObjects are the loop's steady templates, created through the gateway before the faults.
func steadyObjects(ns string) ([]*corev1.ConfigMap, []*appsv1.Deployment) {
	w := &writer{via: "steady", ns: ns, rng: rand.New(rand.NewPCG(0, 0))}
	var cms []*corev1.ConfigMap
	var deps []*appsv1.Deployment
	for _, k := range steady {
		if k.kind == "ConfigMap" {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: k.name, Namespace: ns}}
			w.fillConfigMap(cm)
			cms = append(cms, cm)
		} else {
			deps = append(deps, w.newDeployment(k.name))
		}
	}
	return cms, deps
}

func (w *writer) payload() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8+w.rng.IntN(120))
	for i := range b {
		b[i] = letters[w.rng.IntN(len(letters))]
	}
	return string(b)
}

func (w *writer) pick(options ...string) string { return options[w.rng.IntN(len(options))] }
