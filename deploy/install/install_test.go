package install

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fleetgate/fleetgate/deploy"
	"github.com/fleetgate/fleetgate/localenv"
)

// TestManifestsNameWhatInitMakes: every Secret deploy/base and deploy/cert-manager mount is one
// EnsurePKI makes (or cert-manager's), and the host's front-proxy and gateway identities are
// localenv's.
func TestManifestsNameWhatInitMakes(t *testing.T) {
	for _, overlay := range []string{deploy.Base, deploy.CertManager} {
		objs, err := deploy.Render(deploy.Options{Overlay: overlay})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			vols, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "volumes")
			for _, v := range vols {
				name, ok, _ := unstructured.NestedString(v.(map[string]any), "secret", "secretName")
				if ok && !slices.Contains(SecretNames, name) && name != deploy.GatewayServingCertificate {
					t.Errorf("%s: %s %s mounts secret %s, which init does not make", overlay, o.GetKind(), o.GetName(), name)
				}
			}
		}
	}
	if FrontProxyUser != localenv.GatewayFrontProxyUser || GatewayHostUser != localenv.GatewayHostUser || AdminUser != localenv.GatewayAdminUser {
		t.Errorf("identities differ from localenv's: %s %s %s", FrontProxyUser, GatewayHostUser, AdminUser)
	}
	objs, err := deploy.Render(deploy.Options{Overlay: deploy.Base})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" || o.GetName() != deploy.APIServerService {
			continue
		}
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		args, _, _ := unstructured.NestedStringSlice(cs[0].(map[string]any), "args")
		if !slices.Contains(args, "--requestheader-allowed-names="+FrontProxyUser) {
			t.Errorf("host apiserver args %s: want --requestheader-allowed-names=%s", strings.Join(args, " "), FrontProxyUser)
		}
		return
	}
	t.Error("no host apiserver Deployment rendered")
}
