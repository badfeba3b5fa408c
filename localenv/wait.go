package localenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Deadlines of the readiness waits. Generous because `go test -p 2` may start two environments at once
// on two cores.
const (
	etcdTimeout      = time.Minute
	apiserverTimeout = 3 * time.Minute
	clusterTimeout   = 3 * time.Minute // nodes Ready, default ServiceAccount, … after the apiserver is ready
	gatewayTimeout   = 2 * time.Minute
	pollInterval     = 100 * time.Millisecond
	errorTailLines   = 15
)

// waitFor polls check until it returns nil. It fails when timeout passes (with check's last error),
// when ctx ends, or as soon as one of the watched processes exits; the error names what was awaited and
// the log files to read, with their last lines.
func waitFor(ctx context.Context, what string, timeout time.Duration, watched []*process, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		for _, p := range watched {
			if isClosed(p.exitedChan()) {
				return fmt.Errorf("%s exited while waiting for %s: %v%s", p.name, what, p.crashed(), logHint(p))
			}
		}
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			cause := ctx.Err()
			if errors.Is(cause, context.DeadlineExceeded) {
				cause = fmt.Errorf("not ready after %s", timeout)
			}
			return fmt.Errorf("waiting for %s: %w (last: %v)%s", what, cause, err, logHint(watched...))
		case <-tick.C:
		}
	}
}

// logHint points at the logs of ps, with the last lines of each.
func logHint(ps ...*process) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n--- %s (last %d lines):\n", p.logPath, errorTailLines)
		_ = tailFile(&b, p.logPath, errorTailLines)
	}
	return b.String()
}

// tailFile writes the last n lines of a file to w.
func tailFile(w io.Writer, path string, n int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	data = bytes.TrimRight(data, "\n")
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for _, l := range lines {
		if _, err := fmt.Fprintf(w, "%s\n", l); err != nil {
			return err
		}
	}
	return nil
}

// TailLogs writes the last tailLines lines of every log under <dir>/logs to w, one section per process.
// It works on the directory alone, for when Start failed and there is no Env.
func TailLogs(w io.Writer, dir string, tailLines int) {
	paths, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	sort.Strings(paths)
	for _, path := range paths {
		fmt.Fprintf(w, "----- %s (last %d lines) -----\n", path, tailLines)
		if err := tailFile(w, path, tailLines); err != nil {
			fmt.Fprintf(w, "(%v)\n", err)
		}
	}
}
