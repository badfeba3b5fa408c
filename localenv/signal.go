package localenv

import (
	"fmt"
	"syscall"
)

// SignalAPIServer sends sig to the cluster's running kube-apiserver (the process itself, not its
// group). Tests use SIGSTOP and SIGCONT to freeze an apiserver without closing its connections,
// which looks to clients like a hung cluster rather than a dead one. A stopped apiserver still
// dies with Env.Stop (SIGKILL reaches stopped processes); callers should nevertheless send
// SIGCONT when they are done.
func (c *Cluster) SignalAPIServer(sig syscall.Signal) error {
	if !c.apiserver.running() {
		return fmt.Errorf("signal %s: not running", c.apiserver.name)
	}
	pid := c.apiserver.pid()
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %s (pid %d) with %s: %w", c.apiserver.name, pid, sig, err)
	}
	return nil
}
