package envtest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/localenv"
)

// logTailLines is how much of each process's log a failed test prints.
const logTailLines = 40

// ForTest starts an environment for t and returns it ready. Options.Dir defaults to t.TempDir() and
// Options.Out to t.Log. If a binary is missing the test fails, asking to run `make tools`. Stop is
// registered with t.Cleanup; if the test failed, the tail of every process's log is logged first.
// Processes die with the test binary even if it is killed (see localenv).
func ForTest(t testing.TB, o localenv.Options) *localenv.Env {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Out == nil {
		o.Out = testWriter{t}
	}
	env, err := localenv.Start(context.Background(), o)
	if errors.Is(err, localenv.ErrBinaryMissing) {
		t.Fatalf("%v\nThe real binaries are built into bin/ by `make tools` (and fleetgate by `make build`); FLEETGATE_BIN overrides the directory.", err)
	}
	if err != nil {
		var b bytes.Buffer
		localenv.TailLogs(&b, o.Dir, logTailLines)
		t.Fatalf("start local environment: %v\n%s", err, b.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			var b bytes.Buffer
			env.DumpLogs(&b, logTailLines)
			t.Logf("logs of the local environment in %s:\n%s", env.Dir, b.String())
		}
		if err := env.Stop(); err != nil {
			t.Errorf("stop local environment: %v", err)
		}
	})
	return env
}

// testWriter turns progress lines into t.Log lines.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
