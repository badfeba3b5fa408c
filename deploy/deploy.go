package deploy

import (
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"
)

// The kustomize directories of this package.
const (
	Base        = "base"
	CertManager = "cert-manager"
	Agent       = "agent"
	CRDs        = "crds"
)

// Overlays are every kustomize directory, in the order above.
var Overlays = []string{Base, CertManager, Agent, CRDs}

// Names the manifests use (each defined here once, for init, register and the tests).
const (
	// Namespace is where everything is installed, in the underlying cluster and in a member alike.
	Namespace = "fleetgate-system"
	// Image is the fleetgate image the manifests name; Options.Image replaces it.
	Image = "ghcr.io/fleetgate/fleetgate"

	// GatewayService, GatewayDeployment: the gateway's Service and Deployment (the same name).
	GatewayService    = "fleetgate-gateway"
	GatewayDeployment = "fleetgate-gateway"
	// GatewayServingCertificate is the cert-manager overlay's Certificate for the gateway.
	GatewayServingCertificate = "fleetgate-gateway-serving"
	// APIServerService: the host's kube-apiserver Service (and Deployment).
	APIServerService = "fleetgate-apiserver"
	// ControllerManagerDeployment, EtcdStatefulSet: the rest of the host control plane.
	ControllerManagerDeployment = "fleetgate-controller-manager"
	EtcdStatefulSet             = "fleetgate-etcd"

	// AgentDeployment, AgentConfigMap and AgentSecret are the agent's objects in a member.
	AgentDeployment = "fleetgate-agent"
	AgentConfigMap  = "fleetgate-agent"
	AgentSecret     = "fleetgate-agent"
	// AgentGatewayKey is the key of AgentConfigMap holding the gateway's host:port.
	AgentGatewayKey = "gateway"
)

//go:embed base cert-manager agent crds
var manifests embed.FS

// Options are what Render changes in an overlay, as one more kustomization over it.
type Options struct {
	// Overlay is one of Overlays.
	Overlay string
	// Image replaces the fleetgate image (name[:tag] or name@digest); empty keeps Image:latest.
	Image string
	// GatewaySANs (Base and CertManager) are more names or IPs for the gateway's serving
	// certificate (the address clients use from outside, e.g. a load balancer's): a --tls-san each,
	// and with CertManager in the Certificate too.
	GatewaySANs []string
	// ExternalAddress (Base and CertManager) is the host:port clients and agents outside the
	// cluster reach the gateway at: serve's --external-address (what cluster-info names).
	ExternalAddress string
	// AgentGateway (Agent only) is the gateway's host:port, put into AgentConfigMap.
	AgentGateway string
	// AgentFiles (Agent only) become AgentSecret's data: register's agent.pem and gateway-ca.crt.
	AgentFiles map[string][]byte
}

// root is where the embedded files are put in kustomize's in-memory file system.
const root = "/deploy"

// Render builds the overlay with kustomize (what `kubectl kustomize deploy/<overlay>` prints, with
// the Options applied) and returns its objects in kubectl kustomize's order (kustomize's "legacy"
// order: Namespaces and CRDs first, then ServiceAccounts, RBAC, Secrets and ConfigMaps, Services,
// workloads), which is an order to apply them in.
func Render(o Options) ([]*unstructured.Unstructured, error) {
	objs, _, err := render(o)
	return objs, err
}

// RenderYAML is Render's result as one YAML stream.
func RenderYAML(o Options) ([]byte, error) {
	_, data, err := render(o)
	return data, err
}

func render(o Options) ([]*unstructured.Unstructured, []byte, error) {
	if !slices.Contains(Overlays, o.Overlay) {
		return nil, nil, fmt.Errorf("unknown overlay %q (want one of %s)", o.Overlay, strings.Join(Overlays, ", "))
	}
	fsys, err := memFS()
	if err != nil {
		return nil, nil, err
	}
	k, err := overlay(o)
	if err != nil {
		return nil, nil, err
	}
	data, err := yaml.Marshal(k)
	if err != nil {
		return nil, nil, err
	}
	dir := path.Join(root, "render")
	if err := fsys.MkdirAll(dir); err != nil {
		return nil, nil, err
	}
	if err := fsys.WriteFile(path.Join(dir, "kustomization.yaml"), data); err != nil {
		return nil, nil, err
	}
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy // as kubectl kustomize: namespaces, RBAC, … before workloads
	m, err := krusty.MakeKustomizer(opts).Run(fsys, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("kustomize %s: %w", o.Overlay, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, nil, fmt.Errorf("kustomize %s: %w", o.Overlay, err)
	}
	objs := make([]*unstructured.Unstructured, 0, m.Size())
	for _, r := range m.Resources() {
		// Through JSON, so numbers are int64 or float64 as everywhere else unstructured goes.
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, nil, fmt.Errorf("kustomize %s: %s: %w", o.Overlay, r.CurId(), err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(data); err != nil {
			return nil, nil, fmt.Errorf("kustomize %s: %s: %w", o.Overlay, r.CurId(), err)
		}
		objs = append(objs, obj)
	}
	return objs, out, nil
}

// overlay is the kustomization Render builds: the chosen directory, the image and, for the agent,
// its ConfigMap and Secret.
func overlay(o Options) (*types.Kustomization, error) {
	k := &types.Kustomization{
		TypeMeta:  types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources: []string{"../" + o.Overlay},
	}
	if o.Image != "" {
		img, err := parseImage(o.Image)
		if err != nil {
			return nil, err
		}
		k.Images = []types.Image{img}
	}
	if o.Overlay != Agent {
		if o.AgentGateway != "" || o.AgentFiles != nil {
			return nil, fmt.Errorf("the agent's gateway and files belong to the %s overlay, not %s", Agent, o.Overlay)
		}
		return k, gatewaySANs(k, o)
	}
	if len(o.GatewaySANs) > 0 {
		return nil, fmt.Errorf("gateway SANs do not belong to the %s overlay", Agent)
	}
	if o.AgentGateway != "" {
		patch, err := yaml.Marshal(map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": AgentConfigMap},
			"data":     map[string]string{AgentGatewayKey: o.AgentGateway},
		})
		if err != nil {
			return nil, err
		}
		k.Patches = append(k.Patches, types.Patch{Patch: string(patch)})
	}
	if len(o.AgentFiles) > 0 {
		data := map[string]string{}
		for name, content := range o.AgentFiles {
			if errs := validation.IsConfigMapKey(name); len(errs) > 0 {
				return nil, fmt.Errorf("agent file %q: %s", name, strings.Join(errs, "; "))
			}
			data[name] = base64.StdEncoding.EncodeToString(content)
		}
		patch, err := yaml.Marshal(map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": AgentSecret},
			"data":     data,
		})
		if err != nil {
			return nil, err
		}
		k.Patches = append(k.Patches, types.Patch{Patch: string(patch)})
	}
	return k, nil
}

// gatewaySANs adds o.GatewaySANs (and o.ExternalAddress) to the gateway's arguments and, with CertManager, the SANs to its
// Certificate.
func gatewaySANs(k *types.Kustomization, o Options) error {
	if len(o.GatewaySANs) == 0 && o.ExternalAddress == "" {
		return nil
	}
	var args, cert []map[string]any
	if o.ExternalAddress != "" {
		args = append(args, map[string]any{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--external-address=" + o.ExternalAddress})
	}
	for _, san := range o.GatewaySANs {
		ip := net.ParseIP(san) != nil
		if !ip && len(validation.IsDNS1123Subdomain(strings.TrimPrefix(san, "*."))) > 0 {
			return fmt.Errorf("gateway address %q: neither an IP nor a DNS name", san)
		}
		args = append(args, map[string]any{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--tls-san=" + san})
		field := "/spec/dnsNames/-"
		if ip {
			field = "/spec/ipAddresses/-"
		}
		cert = append(cert, map[string]any{"op": "add", "path": field, "value": san})
	}
	add := func(ops []map[string]any, target *types.Selector) error {
		data, err := yaml.Marshal(ops)
		if err != nil {
			return err
		}
		k.Patches = append(k.Patches, types.Patch{Patch: string(data), Target: target})
		return nil
	}
	if err := add(args, &types.Selector{ResId: resid.NewResIdWithNamespace(resid.NewGvk("apps", "v1", "Deployment"), GatewayDeployment, Namespace)}); err != nil {
		return err
	}
	if o.Overlay == CertManager && len(cert) > 0 {
		return add(cert, &types.Selector{ResId: resid.NewResIdWithNamespace(resid.NewGvk("cert-manager.io", "v1", "Certificate"), GatewayServingCertificate, Namespace)})
	}
	return nil
}

// parseImage splits name[:tag] or name@digest into kustomize's image replacement for Image.
func parseImage(ref string) (types.Image, error) {
	img := types.Image{Name: Image}
	if strings.ContainsAny(ref, " \t\n") || strings.HasPrefix(ref, ":") || strings.HasPrefix(ref, "@") {
		return img, fmt.Errorf("--image %q: not an image reference (name[:tag] or name@digest)", ref)
	}
	if name, digest, ok := strings.Cut(ref, "@"); ok {
		if name == "" || !strings.Contains(digest, ":") {
			return img, fmt.Errorf("--image %q: a digest is <algorithm>:<hex>", ref)
		}
		img.NewName, img.Digest = name, digest
		return img, nil
	}
	img.NewName = ref
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		img.NewName, img.NewTag = ref[:i], ref[i+1:]
		if img.NewTag == "" {
			return img, fmt.Errorf("--image %q: empty tag", ref)
		}
	}
	return img, nil
}

// memFS is kustomize's in-memory file system with the embedded directories under root.
func memFS() (filesys.FileSystem, error) {
	fsys := filesys.MakeFsInMemory()
	err := fs.WalkDir(manifests, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return fsys.MkdirAll(path.Join(root, p))
		}
		data, err := manifests.ReadFile(p)
		if err != nil {
			return err
		}
		return fsys.WriteFile(path.Join(root, p), data)
	})
	return fsys, err
}

// File returns an embedded file, e.g. "crds/kustomization.yaml" (for tests and docs).
func File(name string) ([]byte, error) { return manifests.ReadFile(name) }
