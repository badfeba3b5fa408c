package foundation

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/test/e2e/framework"
)

// TestUpStartsAUsableEnvironmentAndCtrlCStopsIt runs `fleetgate up` as a user would (what `make up`
// runs), uses the kubeconfig it prints, then sends Ctrl-C.
func TestUpStartsAUsableEnvironmentAndCtrlCStopsIt(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	up := exec.CommandContext(ctx, filepath.Join(framework.Env.BinDir, "fleetgate"), "up", "--dir", dir, "--members", "2", "--bin-dir", framework.Env.BinDir)
	up.Stderr = os.Stderr
	stdout, err := up.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = up.Process.Kill(); _ = up.Wait() }()
	lines := make(chan string, 200)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	var printed []string
	kubeconfig := ""
	exportRE := regexp.MustCompile(`^\s*export KUBECONFIG=(\S+gateway\.kubeconfig)$`)
	for ready := false; !ready; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("fleetgate up exited before it was ready:\n%s", strings.Join(printed, "\n"))
			}
			printed = append(printed, l)
			if m := exportRE.FindStringSubmatch(l); m != nil && kubeconfig == "" {
				kubeconfig = m[1]
			}
			ready = strings.Contains(l, "Ctrl-C stops everything")
		case <-ctx.Done():
			t.Fatalf("fleetgate up not ready in time:\n%s", strings.Join(printed, "\n"))
		}
	}
	out := strings.Join(printed, "\n")
	for _, want := range []string{"fleetgate is ready", "cluster(member1) is joined successfully", "fleetgate join member1",
		"token create --kubeconfig", "--print-register-command", "fleetgate register 127.0.0.1:", "--cluster-name member2",
		"fleetgate agent 127.0.0.1:", "cluster(member2) is registered in Pull mode", "cluster(member2) is joined successfully"} {
		if !strings.Contains(out, want) {
			t.Errorf("fleetgate up did not print %q:\n%s", want, out)
		}
	}
	if kubeconfig == "" {
		t.Fatalf("no `export KUBECONFIG=…gateway.kubeconfig` line:\n%s", out)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		r := framework.KubectlResult(t, kubeconfig, "get", "clusters")
		if r.Err != nil {
			return &cmdError{r}
		}
		if !regexp.MustCompile(`(?m)^member1\s+v1\.37\.2\s+Push\s+True\s`).MatchString(r.Stdout) ||
			!regexp.MustCompile(`(?m)^member2\s+v1\.37\.2\s+Pull\s+True\s`).MatchString(r.Stdout) {
			return errors.New("member1 (Push) and member2 (Pull) not both Ready yet:\n" + r.Stdout)
		}
		return nil
	})
	// Ctrl-C: everything stops and the gateway no longer answers.
	if err := up.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines { // drain until exit
	}
	if err := up.Wait(); err != nil {
		t.Errorf("fleetgate up after Ctrl-C: %v", err)
	}
	if r := framework.KubectlResult(t, kubeconfig, "get", "clusters", "--request-timeout=5s"); r.Err == nil {
		t.Errorf("the gateway still answers after Ctrl-C")
	}
	// No process of that environment is left: every one of them had its log under dir.
	if pids := processesUsing(t, dir); len(pids) > 0 {
		t.Errorf("processes left after Ctrl-C: %v", pids)
	}
}

// processesUsing lists processes whose command line mentions dir.
func processesUsing(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		if strings.Contains(string(b), dir) {
			pids = append(pids, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return pids
}
