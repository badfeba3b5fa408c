package localenv_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/localenv"
	"github.com/fleetgate/fleetgate/localenv/envtest"
)

// TestMain lets the test binary stand in for `fleetgate serve` (see fakeGateway) when it is executed
// through a symlink called fleetgate.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "fleetgate" {
		if err := fakeGateway(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "fake gateway:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestEnvironment starts host + a bare member + a workload member + a stand-in gateway from the real
// binaries and checks what later tests rely on.
func TestEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real binaries")
	}
	env := envtest.ForTest(t, localenv.Options{
		BinDir:      binDirWithFakeGateway(t),
		Members:     []localenv.MemberOptions{{}, {Workload: true, NodeCPU: "8", NodeMemory: "16Gi"}},
		Gateway:     true,
		GatewayArgs: []string{"--fake-first"},
	})
	bare, workload := env.Member("member1"), env.Member("member2")
	if bare == nil || workload == nil || bare.Workload || !workload.Workload {
		t.Fatalf("members: %+v", env.Members)
	}
	for _, u := range env.Usage() {
		t.Logf("%-36s pid %-7d RSS %4d MiB", u.Name, u.PID, u.RSS>>20)
	}

	t.Run("deployment", func(t *testing.T) {
		kubectl(t, env, workload, "create", "deployment", "web", "--image=registry.k8s.io/pause:3.10", "--replicas=2")
		kubectl(t, env, workload, "rollout", "status", "deployment/web", "--timeout=2m")
		if out := kubectl(t, env, workload, "get", "deployment", "web", "--no-headers"); !strings.Contains(out, "2/2") {
			t.Fatalf("deployment web is not 2/2 ready: %s", out)
		}
		pod := kubectl(t, env, workload, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
		if out := kubectl(t, env, workload, "logs", pod); !strings.Contains(out, localenv.PodLogLines[0]) {
			t.Errorf("kubectl logs %s = %q, want it to contain %q", pod, out, localenv.PodLogLines[0])
		}
		if out := kubectl(t, env, workload, "exec", pod, "--", "echo", "hi"); out != "hi" {
			t.Errorf("kubectl exec %s -- echo hi = %q", pod, out)
		}
	})

	t.Run("nodes", func(t *testing.T) {
		out := kubectl(t, env, workload, "get", "nodes", "-l", localenv.NodeLabel+"="+localenv.NodeLabelValue,
			"-o", "jsonpath={.items[*].metadata.name} {.items[*].status.allocatable.cpu} {.items[*].status.allocatable.memory}")
		if want := workload.Nodes[0] + " 8 16Gi"; out != want {
			t.Errorf("nodes = %q, want %q", out, want)
		}
	})

	t.Run("bare member and host", func(t *testing.T) {
		for _, c := range []*localenv.Cluster{env.Host, bare} {
			kubectl(t, env, c, "create", "configmap", "probe", "--from-literal=k=v")
			if out := kubectl(t, env, c, "auth", "whoami", "-o", "jsonpath={.status.userInfo.groups}"); !strings.Contains(out, "system:masters") {
				t.Errorf("%s: whoami groups = %s", c.Name, out)
			}
		}
	})

	t.Run("host tokens and controllers", func(t *testing.T) {
		kubectl(t, env, env.Host, "create", "serviceaccount", "probe")
		token := kubectl(t, env, env.Host, "create", "token", "probe")
		host, err := kubernetes.NewForConfig(env.Host.Config)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := host.AuthenticationV1().TokenReviews().Create(context.Background(),
			&authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !tr.Status.Authenticated || tr.Status.User.Username != "system:serviceaccount:default:probe" {
			t.Errorf("TokenReview: %+v", tr.Status)
		}
		// The namespace controller finalizes deletions.
		kubectl(t, env, env.Host, "create", "namespace", "doomed")
		kubectl(t, env, env.Host, "delete", "namespace", "doomed", "--timeout=60s")
	})

	t.Run("second environment in the same dir is refused", func(t *testing.T) {
		_, err := localenv.Start(context.Background(), localenv.Options{Dir: env.Dir, BinDir: env.BinDir})
		if err == nil || !strings.Contains(err.Error(), "used by another environment") {
			t.Fatalf("Start in a used dir: %v", err)
		}
	})

	t.Run("restart member apiserver", func(t *testing.T) {
		ctx := context.Background()
		began := time.Now()
		if err := workload.StopAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("StopAPIServer took %s", time.Since(began))
		if out, err := kubectlErr(env, workload, "get", "--raw", "/readyz", "--request-timeout=2s"); err == nil {
			t.Fatalf("member apiserver still answers after StopAPIServer: %s", out)
		}
		began = time.Now()
		if err := workload.StartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("StartAPIServer took %s", time.Since(began))
		if out := kubectl(t, env, workload, "get", "deployment", "web", "--no-headers"); !strings.Contains(out, "2/2") {
			t.Errorf("after restart: %s", out)
		}
	})

	t.Run("gateway kill and restart", func(t *testing.T) {
		if env.GatewayURL == "" || env.GatewayKubeconfig == "" || env.GatewayConfig == nil {
			t.Fatalf("gateway fields not set: %q %q", env.GatewayURL, env.GatewayKubeconfig)
		}
		readyz := func() error {
			cfg, err := clientcmd.BuildConfigFromFlags("", env.GatewayKubeconfig)
			if err != nil {
				return err
			}
			c, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			_, err = c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
			return err
		}
		if err := readyz(); err != nil {
			t.Fatalf("gateway.kubeconfig: %v", err)
		}
		if err := env.KillGateway(); err != nil {
			t.Fatal(err)
		}
		if err := readyz(); err == nil {
			t.Fatal("gateway still answers after KillGateway")
		}
		if err := env.StartGateway(context.Background(), "--fake-second"); err != nil {
			t.Fatal(err)
		}
		if err := readyz(); err != nil {
			t.Fatalf("after restart: %v", err)
		}
		cmdline := gatewayCmdline(t, env)
		if !strings.Contains(cmdline, "--fake-first --fake-second") {
			t.Errorf("gateway command line %q lacks the extra args", cmdline)
		}
	})

	t.Run("stop leaves no process", func(t *testing.T) {
		usage := env.Usage()
		if len(usage) != 1+2+1+4+1 { // etcd, host ×2, bare ×1, workload ×4, gateway
			t.Errorf("running processes: %+v", usage)
		}
		began := time.Now()
		if err := env.Stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("Stop took %s", time.Since(began))
		for _, u := range usage {
			if err := syscall.Kill(u.PID, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("%s (pid %d) still exists after Stop: %v", u.Name, u.PID, err)
			}
			if err := syscall.Kill(-u.PID, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process group of %s (%d) still exists after Stop: %v", u.Name, u.PID, err)
			}
		}
	})
}

func kubectl(t *testing.T, env *localenv.Env, c *localenv.Cluster, args ...string) string {
	t.Helper()
	out, err := kubectlErr(env, c, args...)
	if err != nil {
		t.Fatalf("kubectl %s (%s): %v\n%s", strings.Join(args, " "), c.Name, err, out)
	}
	return out
}

func kubectlErr(env *localenv.Env, c *localenv.Cluster, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(env.BinDir, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func gatewayCmdline(t *testing.T, env *localenv.Env) string {
	for _, u := range env.Usage() {
		if u.Name == "gateway" {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", u.PID))
			if err != nil {
				t.Fatal(err)
			}
			return strings.ReplaceAll(strings.TrimRight(string(data), "\x00"), "\x00", " ")
		}
	}
	t.Fatal("no running gateway")
	return ""
}

// binDirWithFakeGateway is a bin directory with the real binaries and this test binary as fleetgate.
func binDirWithFakeGateway(t *testing.T) string {
	real, err := localenv.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl"} {
		if err := os.Symlink(filepath.Join(real, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(dir, "fleetgate")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fakeGateway stands in for `fleetgate serve`: it takes the gateway CA from the host the way the real
// gateway does and serves /readyz over TLS with a certificate from it, until SIGTERM.
func fakeGateway(args []string) error {
	if len(args) == 0 || args[0] != "serve" {
		return fmt.Errorf("unexpected arguments %q", args)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "")
	frontProxyCert := fs.String("host-front-proxy-cert-file", "", "")
	frontProxyKey := fs.String("host-front-proxy-key-file", "", "")
	bind := fs.String("bind-address", "", "")
	port := fs.String("secure-port", "", "")
	fs.String("advertise-address", "", "")
	fs.Duration("cluster-failure-threshold", 0, "")
	fs.Duration("cluster-success-threshold", 0, "")
	fs.Bool("fake-first", false, "")
	fs.Bool("fake-second", false, "")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if _, err := tls.LoadX509KeyPair(*frontProxyCert, *frontProxyKey); err != nil {
		return fmt.Errorf("front-proxy certificate: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	host, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ca, err := certs.EnsureCA(ctx, host)
	if err != nil {
		return err
	}
	crt, key, err := ca.Issue(certs.Request{CommonName: "fake-gateway", IPs: []net.IP{net.ParseIP(*bind)},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return err
	}
	l, err := tls.Listen("tcp", net.JoinHostPort(*bind, *port), &tls.Config{
		Certificates: []tls.Certificate{pair}, ClientCAs: ca.Pool(), ClientAuth: tls.VerifyClientCertIfGiven,
	})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
