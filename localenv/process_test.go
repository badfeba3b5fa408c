package localenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcessStopReachesTheGroup: stop kills what the process spawned too, and a second start reuses
// the command line and appends to the log.
func TestProcessStopReachesTheGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	p := &process{name: "sh", path: "/bin/sh", args: []string{"-c", "sleep 300 & echo $! > " + pidFile + "; wait"},
		logPath: filepath.Join(dir, "sh.log")}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	if err := p.start(); err == nil {
		t.Error("second start of a running process succeeded")
	}
	var child int
	err := waitFor(t.Context(), "child pid", 10*time.Second, []*process{p}, func(context.Context) error {
		data, err := os.ReadFile(pidFile)
		if err != nil {
			return err
		}
		_, err = fmt.Sscan(string(data), &child)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p.stop(t.Context(), time.Second)
	if p.running() || p.crashed() != nil {
		t.Errorf("after stop: running %v crashed %v", p.running(), p.crashed())
	}
	// The orphaned sleep is reparented and reaped by init; wait until it is gone.
	err = waitFor(t.Context(), "child gone", 10*time.Second, nil, func(context.Context) error {
		if err := syscall.Kill(child, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("child %d still exists: %v", child, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	p.stop(t.Context(), 0)
	log, _ := os.ReadFile(p.logPath)
	if n := strings.Count(string(log), "=== localenv"); n != 2 {
		t.Errorf("log has %d start headers, want 2:\n%s", n, log)
	}
}

func TestWaitForNamesTheExitedProcess(t *testing.T) {
	dir := t.TempDir()
	p := &process{name: "member9-kube-apiserver", path: "/bin/sh", args: []string{"-c", "echo bad flag; exit 3"},
		logPath: filepath.Join(dir, "x.log")}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	err := waitFor(t.Context(), "x", time.Minute, []*process{p}, func(context.Context) error { return errors.New("not yet") })
	for _, want := range []string{"member9-kube-apiserver exited", "exit status 3", p.logPath, "bad flag"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
