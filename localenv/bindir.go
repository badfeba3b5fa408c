package localenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultBinDir returns $FLEETGATE_BIN if set; else <repo>/bin, <repo> being the nearest directory
// above the working directory whose go.mod declares module github.com/fleetgate/fleetgate; else the
// directory of the running executable if it holds kube-apiserver (an installed `fleetgate up`).
func DefaultBinDir() (string, error) {
	if d := os.Getenv("FLEETGATE_BIN"); d != "" {
		return d, nil
	}
	if wd, err := os.Getwd(); err == nil {
		if root, ok := findRepoRoot(wd); ok {
			return filepath.Join(root, "bin"), nil
		}
	}
	if exe, err := os.Executable(); err == nil {
		d := filepath.Dir(exe)
		if _, err := os.Stat(filepath.Join(d, binAPIServer)); err == nil {
			return d, nil
		}
	}
	return "", errors.New("cannot find the bin directory: set FLEETGATE_BIN (or --bin-dir), or run inside the fleetgate repository")
}

const modulePath = "github.com/fleetgate/fleetgate"

func findRepoRoot(dir string) (string, bool) {
	for {
		if modulePathOf(filepath.Join(dir, "go.mod")) == modulePath {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func modulePathOf(goMod string) string {
	f, err := os.Open(goMod)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// checkBinaries fails with ErrBinaryMissing naming the first executable Start needs and cannot find.
func checkBinaries(o Options) error {
	need := []string{binEtcd, binAPIServer, binControllerManager}
	for _, m := range o.Members {
		if m.Workload {
			need = append(need, binScheduler, binKwok)
			break
		}
	}
	if o.Gateway {
		need = append(need, binFleetgate)
	}
	if o.CertManager {
		need = append(need, binCertManager)
	}
	for _, name := range need {
		if err := checkBinary(o.BinDir, name); err != nil {
			return err
		}
	}
	return nil
}

func checkBinary(binDir, name string) error {
	path := filepath.Join(binDir, name)
	if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		hint := "run `make tools`"
		if name == binFleetgate {
			hint = "run `make build`"
		}
		return fmt.Errorf("localenv: %w: %s (%s)", ErrBinaryMissing, path, hint)
	}
	return nil
}
