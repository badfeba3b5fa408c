package foundation

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// TestKubectlPluginRunsTheSameCommands: kubectl finds kubectl-fleetgate on PATH and runs its commands.
func TestKubectlPluginRunsTheSameCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, filepath.Join(framework.Env.BinDir, "kubectl"), args...)
		cmd.Env = append(os.Environ(), "PATH="+framework.Env.BinDir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("fleetgate", "version"); !strings.HasPrefix(out, "fleetgate ") {
		t.Errorf("kubectl fleetgate version: %q", out)
	}
	if out := run("fleetgate", "join", "--help"); !strings.Contains(out, "kubectl fleetgate join member1") {
		t.Errorf("kubectl fleetgate join --help does not show the plugin form:\n%s", out)
	}
	// Tokens for Pull mode, as the plugin.
	gw := framework.Env.GatewayKubeconfig
	out := run("fleetgate", "token", "create", "--kubeconfig", gw, "--description", "plugin test", "--print-register-command")
	m := regexp.MustCompile(`register \S+ --token (([a-z0-9]{6})\.[a-z0-9]{16}) --discovery-token-ca-cert-hash sha256:[0-9a-f]{64}`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("kubectl fleetgate token create --print-register-command: %q", out)
	}
	if out := run("fleetgate", "token", "list", "--kubeconfig", gw); !strings.Contains(out, m[2]) || strings.Contains(out, m[1]) {
		t.Errorf("kubectl fleetgate token list shows %q: want the ID %s, never the secret", out, m[2])
	}
	run("fleetgate", "token", "delete", m[2], "--kubeconfig", gw)
	if out := run("fleetgate", "token", "list", "--kubeconfig", gw); strings.Contains(out, m[2]) {
		t.Errorf("kubectl fleetgate token list after delete still shows %s:\n%s", m[2], out)
	}
}
