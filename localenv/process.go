package localenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a process gets between SIGTERM and SIGKILL.
const stopGrace = 10 * time.Second

// process is one child process that can be stopped and started again with the same command line.
// Each child leads its own process group (so that Stop also reaches anything it spawned, such as
// kwok's exec children) and gets SIGKILL when the parent dies, so that a crashed or killed test binary
// leaves nothing behind.
type process struct {
	name    string // "<cluster>-<component>", also the base name of its log file
	path    string
	args    []string
	logPath string

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the current run has ended and was reaped
	exitErr  error
	stopping bool // the current run is being stopped on purpose
}

// start runs the process, appending its stdout and stderr to its log file.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.exited) {
		return fmt.Errorf("start %s: already running as pid %d", p.name, p.cmd.Process.Pid)
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	fmt.Fprintf(logFile, "=== localenv %s: %s %s\n", time.Now().Format(time.RFC3339), p.path, strings.Join(p.args, " "))
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited, p.exitErr, p.stopping = cmd, exited, nil, false
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// childEnv is our environment minus what could point a child at another cluster.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	return env
}

// stop ends the current run: SIGTERM to the process group, SIGKILL after grace (at once when grace
// is zero or ctx ends), then waits until it is reaped. A process that is not running is left alone.
func (p *process) stop(ctx context.Context, grace time.Duration) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	if cmd == nil {
		p.mu.Unlock()
		return
	}
	p.stopping = true
	p.mu.Unlock()
	pgid := cmd.Process.Pid
	if grace > 0 && !isClosed(exited) {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		select {
		case <-exited:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	// Also reaches children that outlived the leader.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-exited
}

// running reports whether the process was started and has not exited.
func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isClosed(p.exited)
}

// pid is the process id of the current or last run, 0 if never started.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// crashed returns the exit error of a run that ended without being stopped, nil otherwise.
func (p *process) crashed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.stopping || !isClosed(p.exited) {
		return nil
	}
	if p.exitErr == nil {
		return fmt.Errorf("exited with status 0")
	}
	return p.exitErr
}

// exitedChan is closed when the current run ends; nil (blocks forever) before the first start.
func (p *process) exitedChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// rss is the resident set size of the running process in bytes, 0 if unknown.
func (p *process) rss() int64 {
	if !p.running() {
		return 0
	}
	return rssOf(p.pid())
}

func rssOf(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb * 1024
				}
			}
		}
	}
	return 0
}

func isClosed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}
