package foundation

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
}
