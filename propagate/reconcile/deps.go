package reconcile

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resources a workload's pod template can depend on (propagateDeps).
var (
	configMapsGK             = schema.GroupKind{Kind: "ConfigMap"}
	secretsGK                = schema.GroupKind{Kind: "Secret"}
	serviceAccountsGK        = schema.GroupKind{Kind: "ServiceAccount"}
	persistentVolumeClaimsGK = schema.GroupKind{Kind: "PersistentVolumeClaim"}
	namespacesGK             = schema.GroupKind{Kind: "Namespace"}

	dependencyKinds = []schema.GroupKind{configMapsGK, secretsGK, serviceAccountsGK, persistentVolumeClaimsGK}
)

// podSpecPaths says where each workload kind keeps its pod spec.
var podSpecPaths = map[schema.GroupKind][]string{
	{Group: "apps", Kind: "Deployment"}:  {"spec", "template", "spec"},
	{Group: "apps", Kind: "StatefulSet"}: {"spec", "template", "spec"},
	{Group: "apps", Kind: "DaemonSet"}:   {"spec", "template", "spec"},
	{Group: "apps", Kind: "ReplicaSet"}:  {"spec", "template", "spec"},
	{Group: "batch", Kind: "Job"}:        {"spec", "template", "spec"},
	{Group: "batch", Kind: "CronJob"}:    {"spec", "jobTemplate", "spec", "template", "spec"},
	{Group: "", Kind: "Pod"}:             {"spec"},
}

// isWorkload reports whether gk has a pod template whose dependencies can follow it.
func isWorkload(gk schema.GroupKind) bool { _, ok := podSpecPaths[gk]; return ok }

// dependencies returns the ConfigMaps, Secrets (including image pull secrets), ServiceAccount (not
// "default") and PersistentVolumeClaims that obj's pod template references, as Keys in obj's
// namespace, sorted and without duplicates. Objects that are not workloads have none.
func dependencies(obj *unstructured.Unstructured) ([]Key, error) {
	path, ok := podSpecPaths[obj.GroupVersionKind().GroupKind()]
	if !ok {
		return nil, nil
	}
	raw, found, err := unstructured.NestedMap(obj.Object, path...)
	if err != nil || !found {
		return nil, err
	}
	var spec corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
		return nil, fmt.Errorf("read pod template of %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	set := map[Key]bool{}
	add := func(gk schema.GroupKind, name string) {
		if name != "" {
			set[Key{Kind: gk, Namespace: obj.GetNamespace(), Name: name}] = true
		}
	}
	sa := spec.ServiceAccountName
	if sa == "" {
		sa = spec.DeprecatedServiceAccount
	}
	if sa != "default" {
		add(serviceAccountsGK, sa)
	}
	for _, s := range spec.ImagePullSecrets {
		add(secretsGK, s.Name)
	}
	for i := range spec.Volumes {
		volumeDependencies(&spec.Volumes[i], add)
	}
	visitContainers(&spec, func(c *corev1.Container) {
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				add(configMapsGK, e.ConfigMapRef.Name)
			}
			if e.SecretRef != nil {
				add(secretsGK, e.SecretRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				add(configMapsGK, r.Name)
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				add(secretsGK, r.Name)
			}
		}
	})
	out := make([]Key, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// volumeDependencies adds what one volume references: ConfigMaps and Secrets (directly or
// projected), a claim, and the secrets of volume plugins that take a secretRef.
func volumeDependencies(v *corev1.Volume, add func(schema.GroupKind, string)) {
	switch {
	case v.ConfigMap != nil:
		add(configMapsGK, v.ConfigMap.Name)
	case v.Secret != nil:
		add(secretsGK, v.Secret.SecretName)
	case v.PersistentVolumeClaim != nil:
		add(persistentVolumeClaimsGK, v.PersistentVolumeClaim.ClaimName)
	case v.Projected != nil:
		for _, s := range v.Projected.Sources {
			if s.ConfigMap != nil {
				add(configMapsGK, s.ConfigMap.Name)
			}
			if s.Secret != nil {
				add(secretsGK, s.Secret.Name)
			}
		}
	case v.CSI != nil && v.CSI.NodePublishSecretRef != nil:
		add(secretsGK, v.CSI.NodePublishSecretRef.Name)
	case v.AzureFile != nil:
		add(secretsGK, v.AzureFile.SecretName)
	case v.CephFS != nil && v.CephFS.SecretRef != nil:
		add(secretsGK, v.CephFS.SecretRef.Name)
	case v.Cinder != nil && v.Cinder.SecretRef != nil:
		add(secretsGK, v.Cinder.SecretRef.Name)
	case v.FlexVolume != nil && v.FlexVolume.SecretRef != nil:
		add(secretsGK, v.FlexVolume.SecretRef.Name)
	case v.ISCSI != nil && v.ISCSI.SecretRef != nil:
		add(secretsGK, v.ISCSI.SecretRef.Name)
	case v.RBD != nil && v.RBD.SecretRef != nil:
		add(secretsGK, v.RBD.SecretRef.Name)
	case v.ScaleIO != nil && v.ScaleIO.SecretRef != nil:
		add(secretsGK, v.ScaleIO.SecretRef.Name)
	case v.StorageOS != nil && v.StorageOS.SecretRef != nil:
		add(secretsGK, v.StorageOS.SecretRef.Name)
	}
}

// visitContainers calls f for every init, regular and ephemeral container.
func visitContainers(spec *corev1.PodSpec, f func(*corev1.Container)) {
	for i := range spec.InitContainers {
		f(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		f(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		f((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
}
