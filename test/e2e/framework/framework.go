// Package framework owns the helpers of fleetgate's end-to-end tests: a package-wide environment
// started in TestMain, kubectl and fleetgate command runners, and condition polling. It does not
// contain tests.
package framework

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/localenv"
)

// Main starts an environment for the whole test package, runs the tests and stops it. setup may
// prepare shared state (e.g. join clusters); a failure there fails the package with the logs.
func Main(m *testing.M, o localenv.Options, setup func(*localenv.Env) error) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("skipping end-to-end tests in -short mode")
		return 0
	}
	dir, err := os.MkdirTemp("", "fleetgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Getenv("FLEETGATE_E2E_KEEP") == "" {
		defer os.RemoveAll(dir)
	} else {
		fmt.Println("keeping the environment's state in", dir)
	}
	o.Dir = dir
	if o.Out == nil {
		o.Out = os.Stdout
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	env, err := localenv.Start(ctx, o)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start environment: %v\n", err)
		localenv.TailLogs(os.Stderr, dir, 40)
		return 1
	}
	Env = env
	code := 1
	defer func() {
		if code != 0 {
			env.DumpLogs(os.Stderr, 60)
		}
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop environment: %v\n", err)
		}
	}()
	if setup != nil {
		if err := setup(env); err != nil {
			fmt.Fprintf(os.Stderr, "setup: %v\n", err)
			return code
		}
	}
	code = m.Run()
	return code
}

// Env is the package's environment, set by Main.
var Env *localenv.Env

// Result is the outcome of a command.
type Result struct {
	Stdout, Stderr string
	Err            error
}

// Run runs a binary from the bin directory with args and returns its output (never fails the test).
func Run(ctx context.Context, bin string, args ...string) Result {
	cmd := exec.CommandContext(ctx, filepath.Join(Env.BinDir, bin), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
}

// Kubectl runs kubectl against kubeconfig and fails the test if it fails.
func Kubectl(t testing.TB, kubeconfig string, args ...string) string {
	t.Helper()
	r := KubectlResult(t, kubeconfig, args...)
	if r.Err != nil {
		t.Fatalf("kubectl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// KubectlResult runs kubectl against kubeconfig and returns whatever happened.
func KubectlResult(t testing.TB, kubeconfig string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return Run(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

// Apply runs `kubectl apply -f -` with manifest on stdin against kubeconfig and fails the test if it
// fails.
func Apply(t testing.TB, kubeconfig, manifest string, args ...string) string {
	t.Helper()
	r := KubectlStdin(t, kubeconfig, manifest, append([]string{"apply", "-f", "-"}, args...)...)
	if r.Err != nil {
		t.Fatalf("kubectl apply: %v\n%s\n%s\nmanifest:\n%s", r.Err, r.Stdout, r.Stderr, manifest)
	}
	return r.Stdout
}

// KubectlStdin runs kubectl with stdin and returns whatever happened.
func KubectlStdin(t testing.TB, kubeconfig, stdin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(Env.BinDir, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	return Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
}

// Fleetgate runs the fleetgate CLI and returns whatever happened.
func Fleetgate(t testing.TB, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return Run(ctx, "fleetgate", args...)
}

// Eventually polls cond every interval until it returns nil or timeout passes; then it fails the
// test with the last error.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// WaitClustersReady waits until each named Cluster is Ready (as seen through the gateway) and has
// its resource summary, so that scheduling sees it.
func WaitClustersReady(ctx context.Context, env *localenv.Env, names ...string) error {
	for _, n := range names {
		for {
			r := Run(ctx, "kubectl", "--kubeconfig", env.GatewayKubeconfig, "get", "cluster", n, "-o",
				`jsonpath={.status.conditions[?(@.type=="Ready")].status}/{.status.resourceSummary.allocatable.pods}`)
			if r.Err == nil && strings.HasPrefix(r.Stdout, "True/") {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("cluster %s not Ready: %s%s", n, r.Stdout, r.Stderr)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

// PullEnv names the environment variable that chooses which members Join registers in Pull mode:
// a comma-separated list of member names, "none" for none. When it is unset, the package's default
// applies (the WALKTHROUGH's member2 where a package has it).
const PullEnv = "FLEETGATE_E2E_PULL"

// PullMembers are the members Join registers in Pull mode: $FLEETGATE_E2E_PULL, or defaults when
// it is unset.
func PullMembers(defaults ...string) []string {
	v, ok := os.LookupEnv(PullEnv)
	if !ok {
		return defaults
	}
	var names []string
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" && n != "none" {
			names = append(names, n)
		}
	}
	return names
}

// Join makes each named member a cluster of the gateway: in Pull mode (token, register, agent;
// localenv.Env.RegisterPull) when pull names it, otherwise in Push mode with `fleetgate join`. It
// returns once every one is Ready. The mode of each is printed, so a failing run says which it was.
func Join(ctx context.Context, env *localenv.Env, pull []string, names ...string) error {
	for _, name := range names {
		if slices.Contains(pull, name) {
			fmt.Printf("e2e: %s joins in Pull mode\n", name)
			if err := env.RegisterPull(ctx, name); err != nil {
				return err
			}
			continue
		}
		fmt.Printf("e2e: %s joins in Push mode\n", name)
		r := Run(ctx, "fleetgate", "join", name, "--kubeconfig", env.GatewayKubeconfig, "--cluster-kubeconfig", env.Member(name).Kubeconfig)
		if r.Err != nil {
			return fmt.Errorf("join %s: %v\n%s%s", name, r.Err, r.Stdout, r.Stderr)
		}
	}
	return WaitClustersReady(ctx, env, names...)
}
