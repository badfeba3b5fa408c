package install

import (
	"context"
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Field managers of the install commands' server-side applies.
const (
	InitFieldManager     = "fleetgate-init"
	RegisterFieldManager = "fleetgate-register"
)

// Apply server-side applies objs in their order as fieldManager, taking over fields other managers
// set (re-running an install converges on the manifests), and prints one line per object.
func Apply(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured, fieldManager string, out io.Writer) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("apply %s %s: the cluster does not serve the kind: %w", gvk.Kind, obj.GetName(), err)
		}
		var r dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			r = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
		}
		if _, err := r.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			return fmt.Errorf("apply %s: %w", ref(obj), err)
		}
		fmt.Fprintf(out, "[apply] %s\n", ref(obj))
	}
	return nil
}

// ref is kubectl's name of an object: kind.group/name (in namespace).
func ref(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	s := strings.ToLower(gvk.Kind)
	if gvk.Group != "" {
		s += "." + gvk.Group
	}
	s += "/" + obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		s += " in " + ns
	}
	return s
}
