package localenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDir takes an exclusive flock on <dir>/.lock so that two environments never share a directory.
// The kernel drops it when this process dies; children do not inherit it (close-on-exec).
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("localenv: state dir %s is used by another environment (pid %s): %w",
			dir, strings.TrimSpace(string(holder)), err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// cleanDir removes what an earlier environment left in dir, and nothing else.
func cleanDir(dir string) error {
	clusters, _ := os.ReadDir(filepath.Join(dir, "clusters"))
	for _, c := range clusters {
		_ = os.Remove(filepath.Join(dir, c.Name()+".kubeconfig"))
	}
	_ = os.Remove(filepath.Join(dir, gatewayKubeconfigFile))
	for _, d := range []string{"etcd", "logs", "clusters"} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			return fmt.Errorf("clean state dir: %w", err)
		}
	}
	return nil
}
