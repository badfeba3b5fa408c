package install

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"

	"github.com/fleetgate/fleetgate/bootstrap"
	"github.com/fleetgate/fleetgate/deploy"
)

// AgentOptions are what InstallAgent puts into a member.
type AgentOptions struct {
	// Gateway is the gateway's host:port the agent dials.
	Gateway string
	// Dir is what register wrote: bootstrap.AgentCredentialsFile and bootstrap.GatewayCAFile.
	Dir string
	// Image replaces the fleetgate image (deploy.Options.Image).
	Image string
}

// InstallAgent applies deploy/agent into the member (namespace, service account, its
// ClusterRoleBinding, the ConfigMap with Gateway, the Secret with Dir's files, the Deployment) as
// RegisterFieldManager.
func InstallAgent(ctx context.Context, member *rest.Config, o AgentOptions, out io.Writer) error {
	files := map[string][]byte{}
	for _, name := range []string{bootstrap.AgentCredentialsFile, bootstrap.GatewayCAFile} {
		data, err := os.ReadFile(filepath.Join(o.Dir, name))
		if err != nil {
			return fmt.Errorf("the agent's files (register writes them): %w", err)
		}
		files[name] = data
	}
	objs, err := deploy.Render(deploy.Options{Overlay: deploy.Agent, Image: o.Image, AgentGateway: o.Gateway, AgentFiles: files})
	if err != nil {
		return err
	}
	return Apply(ctx, member, objs, RegisterFieldManager, out)
}
