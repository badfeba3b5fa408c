package crds

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// FieldManager is the server-side apply field manager used for the CRDs.
const FieldManager = "fleetgate"

// DefaultTimeout bounds Install when the context has no deadline of its own.
const DefaultTimeout = 60 * time.Second

// pollInterval is how often Install checks the Established condition.
const pollInterval = 100 * time.Millisecond

// crdResource is the resource CRDs are served as.
var crdResource = schema.GroupVersionResource{
	Group:    "apiextensions.k8s.io",
	Version:  "v1",
	Resource: "customresourcedefinitions",
}

//go:embed *.yaml
var manifests embed.FS

// Names returns the names of the embedded CRDs (e.g. "clusters.cluster.karmada.io"), sorted.
func Names() []string {
	objs, err := Objects()
	if err != nil {
		// The manifests are embedded at build time and checked by this package's tests.
		panic(err)
	}
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	return names
}

// Objects returns a fresh copy of every embedded CRD, parsed, sorted by name.
func Objects() ([]*unstructured.Unstructured, error) {
	files, err := fs.Glob(manifests, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list CRD manifests: %w", err)
	}
	objs := make([]*unstructured.Unstructured, 0, len(files))
	for _, f := range files {
		obj, err := parse(f)
		if err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
	slices.SortFunc(objs, func(a, b *unstructured.Unstructured) int {
		return strings.Compare(a.GetName(), b.GetName())
	})
	return objs, nil
}

// Manifest returns the YAML of the CRD with the given name.
func Manifest(name string) ([]byte, error) {
	files, err := fs.Glob(manifests, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list CRD manifests: %w", err)
	}
	for _, f := range files {
		obj, err := parse(f)
		if err != nil {
			return nil, err
		}
		if obj.GetName() == name {
			return manifests.ReadFile(f)
		}
	}
	return nil, fmt.Errorf("CRD %q is not embedded", name)
}

func parse(file string) (*unstructured.Unstructured, error) {
	data, err := manifests.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CRD manifest %s: %w", file, err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("parse CRD manifest %s: %w", file, err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(js); err != nil {
		return nil, fmt.Errorf("parse CRD manifest %s: %w", file, err)
	}
	if obj.GetKind() != "CustomResourceDefinition" || obj.GetName() == "" {
		return nil, fmt.Errorf("CRD manifest %s: not a named CustomResourceDefinition", file)
	}
	return obj, nil
}

// Install server-side applies every embedded CRD to the cluster cfg points at (field manager
// FieldManager, conflicts forced) and waits until each one is Established. Without a deadline on
// ctx it gives up after DefaultTimeout. Errors name the CRD.
func Install(ctx context.Context, cfg *rest.Config) error {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		// client-go's default (5 QPS) would make the Established polls needlessly slow.
		cfg.QPS, cfg.Burst = 50, 100
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("create dynamic client: %w", err)
	}
	return InstallWithClient(ctx, client)
}

// AnnotationContentHash records, on an object the gateway installs at start (CRDs, webhook
// configurations), the hash of the content it last wrote.
const AnnotationContentHash = "fleetgate.io/content-hash"

// ContentHash is the SHA-256 of obj's JSON, hex: what AnnotationContentHash records.
func ContentHash(obj any) (string, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// InstallWithClient is Install with a dynamic client the caller already has.
func InstallWithClient(ctx context.Context, client dynamic.Interface) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	objs, err := Objects()
	if err != nil {
		return err
	}
	crds := client.Resource(crdResource)
	for _, obj := range objs {
		// The hash of what is applied is recorded on the CRD: a restart over the same CRDs reads
		// them and writes nothing.
		sum, err := ContentHash(obj)
		if err != nil {
			return err
		}
		if cur, err := crds.Get(ctx, obj.GetName(), metav1.GetOptions{}); err == nil && cur.GetAnnotations()[AnnotationContentHash] == sum {
			continue
		}
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[AnnotationContentHash] = sum
		obj.SetAnnotations(ann)
		if _, err := crds.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return fmt.Errorf("apply CRD %s: %w", obj.GetName(), err)
		}
	}
	for _, obj := range objs {
		if err := waitEstablished(ctx, crds, obj.GetName()); err != nil {
			return err
		}
	}
	return nil
}

// waitEstablished polls the CRD until its Established condition is True. A CRD whose names were
// rejected (NamesAccepted=False) fails at once.
func waitEstablished(ctx context.Context, crds dynamic.ResourceInterface, name string) error {
	last := "not found yet"
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		obj, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		established, rejected, why := conditions(obj)
		if rejected {
			return false, fmt.Errorf("CRD %s: names not accepted: %s", name, why)
		}
		last = why
		return established, nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("wait for CRD %s to be Established: %w (last seen: %s)", name, ctx.Err(), last)
	default:
		return err
	}
}

// conditions reads the CRD's Established and NamesAccepted conditions: whether it is established,
// whether its names were rejected, and a short description for errors.
func conditions(obj *unstructured.Unstructured) (established, rejected bool, why string) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	why = "no Established condition"
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		typ, status := fmt.Sprint(m["type"]), fmt.Sprint(m["status"])
		switch {
		case typ == "Established" && status == "True":
			return true, false, ""
		case typ == "NamesAccepted" && status == "False":
			return false, true, fmt.Sprint(m["message"])
		case typ == "Established":
			why = fmt.Sprintf("Established=%s: %v", status, m["message"])
		}
	}
	return false, false, why
}
