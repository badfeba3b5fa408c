package localenv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// agentTimeout bounds how long RegisterPull waits for the registration.
const agentTimeout = time.Minute

// registerCommand is the line `fleetgate token create --print-register-command` prints.
var registerCommand = regexp.MustCompile(`(?m)^\S*fleetgate register (\S+) --token (\S+) --discovery-token-ca-cert-hash (\S+)$`)

// RegisterPull registers the member name in Pull mode the way a user does, with the real CLI: a
// bootstrap token from `fleetgate token create --print-register-command` (as the gateway admin),
// then `fleetgate register` with that token and the CA pin, writing the agent's key and certificate
// to <dir>/<name>/agent. It then starts `fleetgate agent` for the member as a process of the
// environment (<name>-agent, log in logs/<name>-agent.log), which StopAgent and StartAgent control.
// It returns once the agent runs; whether the gateway sees the cluster Ready is the caller's to
// wait for. The gateway must be running.
func (e *Env) RegisterPull(ctx context.Context, name string) error {
	c := e.Member(name)
	if c == nil {
		return fmt.Errorf("register %s: no such member", name)
	}
	if e.GatewayKubeconfig == "" {
		return fmt.Errorf("register %s: the gateway was never started", name)
	}
	ctx, cancel := context.WithTimeout(ctx, agentTimeout)
	defer cancel()
	bin := filepath.Join(e.BinDir, binFleetgate)
	out, err := runCLI(ctx, bin, "token", "create", "--kubeconfig", e.GatewayKubeconfig,
		"--description", "localenv: "+name, "--print-register-command")
	if err != nil {
		return fmt.Errorf("register %s: token create: %w", name, err)
	}
	m := registerCommand.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("register %s: token create printed no register command: %q", name, out)
	}
	gateway, token, hash := m[1], m[2], m[3]
	dir := c.layout.path("agent")
	out, err = runCLI(ctx, bin, "register", gateway, "--token", token, "--discovery-token-ca-cert-hash", hash,
		"--cluster-name", name, "--dir", dir)
	if err != nil {
		return fmt.Errorf("register %s: %w", name, err)
	}
	e.printf("%s registered in Pull mode", name)
	if e.out != nil {
		_, _ = e.out.Write(out2lines(out, name))
	}
	c.agent = &process{
		name:    name + "-agent",
		path:    bin,
		args:    []string{"agent", gateway, "--dir", dir, "--kubeconfig", c.Kubeconfig},
		logPath: filepath.Join(e.Dir, "logs", name+"-agent.log"),
	}
	return c.agent.start()
}

// out2lines prefixes every line of a command's output with the member's name.
func out2lines(out, name string) []byte {
	var b bytes.Buffer
	for line := range bytes.Lines([]byte(out)) {
		fmt.Fprintf(&b, "  %s: %s", name, line)
	}
	return b.Bytes()
}

// runCLI runs a command and returns its standard output; an error carries its standard error.
func runCLI(ctx context.Context, bin string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = childEnv()
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%v: %s%s", err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// StopAgent kills the member's agent (SIGKILL, like a crash) and waits until it has exited.
func (c *Cluster) StopAgent() error {
	if c.agent == nil || !c.agent.running() {
		return fmt.Errorf("stop %s agent: not running", c.Name)
	}
	c.agent.stop(context.Background(), 0)
	return nil
}

// StartAgent starts the member's agent again, with the same key, certificate and command line.
func (c *Cluster) StartAgent() error {
	if c.agent == nil {
		return fmt.Errorf("start %s agent: %s was never registered in Pull mode", c.Name, c.Name)
	}
	return c.agent.start()
}

// Pull reports whether the member was registered in Pull mode (RegisterPull).
func (c *Cluster) Pull() bool { return c.agent != nil }

// AgentLog is the path of the agent's log file.
func (c *Cluster) AgentLog() string {
	if c.agent == nil {
		return ""
	}
	return c.agent.logPath
}

// AgentDir is where RegisterPull wrote the agent's key, certificate and the gateway's CA.
func (c *Cluster) AgentDir() string { return c.layout.path("agent") }
