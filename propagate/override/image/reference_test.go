package image

import (
	"strings"
	"testing"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

const (
	sha   = "sha256:50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c"
	sha2  = "sha256:4b2b1f2c0a7d4c7f3c1e1e4a8c9f2f1b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
	sha5  = "sha512:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	sha38 = "sha384:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Reference
	}{
		{"nginx", Reference{Repository: "nginx"}},
		{"nginx:1.27", Reference{Repository: "nginx", Tag: "1.27"}},
		{"nginx:latest", Reference{Repository: "nginx", Tag: "latest"}},
		{"library/nginx:1.27-alpine", Reference{Repository: "library/nginx", Tag: "1.27-alpine"}},
		{"docker.io/library/nginx:1.27", Reference{Registry: "docker.io", Repository: "library/nginx", Tag: "1.27"}},
		{"registry.k8s.io/kube-apiserver:v1.37.2", Reference{Registry: "registry.k8s.io", Repository: "kube-apiserver", Tag: "v1.37.2"}},
		{"registry.k8s.io/pause:3.10", Reference{Registry: "registry.k8s.io", Repository: "pause", Tag: "3.10"}},
		{"quay.io/prometheus/node-exporter:v1.8.2", Reference{Registry: "quay.io", Repository: "prometheus/node-exporter", Tag: "v1.8.2"}},
		{"ghcr.io/fluxcd/source-controller:v1.4.1", Reference{Registry: "ghcr.io", Repository: "fluxcd/source-controller", Tag: "v1.4.1"}},
		{"gcr.io/distroless/static-debian12:nonroot", Reference{Registry: "gcr.io", Repository: "distroless/static-debian12", Tag: "nonroot"}},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:2024.06.01", Reference{Registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", Repository: "team/app", Tag: "2024.06.01"}},
		{"myacr.azurecr.io/samples/hello_world:v2", Reference{Registry: "myacr.azurecr.io", Repository: "samples/hello_world", Tag: "v2"}},
		{"europe-docker.pkg.dev/proj/repo/img__x:tag_1", Reference{Registry: "europe-docker.pkg.dev", Repository: "proj/repo/img__x", Tag: "tag_1"}},
		{"docker.io/karmada/karmada-controller-manager:v1.0.0", Reference{Registry: "docker.io", Repository: "karmada/karmada-controller-manager", Tag: "v1.0.0"}},
		{"fictional.registry.example:10443/karmada/karmada-controller-manager:v1.0.0", Reference{Registry: "fictional.registry.example:10443", Repository: "karmada/karmada-controller-manager", Tag: "v1.0.0"}},
		{"localhost/app", Reference{Registry: "localhost", Repository: "app"}},
		{"localhost:5000/app:dev", Reference{Registry: "localhost:5000", Repository: "app", Tag: "dev"}},
		{"localhost:5000", Reference{Repository: "localhost", Tag: "5000"}},
		{"myregistry:5000/team/app", Reference{Registry: "myregistry:5000", Repository: "team/app"}},
		{"127.0.0.1:5000/app:1", Reference{Registry: "127.0.0.1:5000", Repository: "app", Tag: "1"}},
		{"10.0.0.1/app", Reference{Registry: "10.0.0.1", Repository: "app"}},
		{"[::1]:5000/app:1.0", Reference{Registry: "[::1]:5000", Repository: "app", Tag: "1.0"}},
		{"[2001:db8::1]/team/app", Reference{Registry: "[2001:db8::1]", Repository: "team/app"}},
		{"[fe80::1%25eth0]:5000/app", Reference{}}, // zone ids are not in the grammar: invalid
		{"nginx@" + sha, Reference{Repository: "nginx", Digest: sha}},
		{"nginx:1.27@" + sha, Reference{Repository: "nginx", Tag: "1.27", Digest: sha}},
		{"registry.k8s.io/etcd:3.5.15-0@" + sha, Reference{Registry: "registry.k8s.io", Repository: "etcd", Tag: "3.5.15-0", Digest: sha}},
		{"[::1]:5000/app@" + sha, Reference{Registry: "[::1]:5000", Repository: "app", Digest: sha}},
		{"app@" + sha5, Reference{Repository: "app", Digest: sha5}},
		{"app@" + sha38, Reference{Repository: "app", Digest: sha38}},
		{"team/app", Reference{Repository: "team/app"}},
		{"a/b/c/d", Reference{Repository: "a/b/c/d"}},
		{"my-org/my--app", Reference{Repository: "my-org/my--app"}},
		{"Team/app", Reference{Repository: "Team/app"}}, // the grammar's domain-shaped first component
		{"my_registry.local/app", Reference{Registry: "my_registry.local", Repository: "app"}},
		{"app:" + strings.Repeat("t", 128), Reference{Repository: "app", Tag: strings.Repeat("t", 128)}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.want == (Reference{}) {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Fatalf("String() = %q, want %q", s, tt.in)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	for _, in := range []string{
		"",
		":",
		"@",
		"nginx:",
		"nginx@",
		":latest",
		"Nginx",
		"nginx:1.27:2",
		"nginx:-bad",
		"nginx:" + strings.Repeat("t", 129),
		"nginx@sha256:abc",
		"nginx@sha256:" + strings.ToUpper(sha[7:]),
		"nginx@md5:0123456789abcdef0123456789abcdef",
		"nginx@" + sha + "@" + sha,
		"registry.k8s.io/",
		"registry.k8s.io//pause",
		"/nginx",
		"nginx/",
		"a..b",
		"a___b",
		"-a",
		"a-",
		"team/App",
		"reg.io:port/app",
		"reg.io:/app",
		"-reg.io/app",
		"[::1/app",
		"[]/app",
		"[zz::1]/app",
		"nginx latest",
		" nginx",
		"nginx\n",
		"ngin\x00x",
		strings.Repeat("a", 256),
	} {
		t.Run(in, func(t *testing.T) {
			if r, err := Parse(in); err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", in, r)
			} else if !strings.Contains(err.Error(), "invalid image reference") {
				t.Fatalf("error %q does not say what is wrong", err)
			}
		})
	}
}

func TestOverride(t *testing.T) {
	const (
		add     = policyv1alpha1.OverriderOpAdd
		replace = policyv1alpha1.OverriderOpReplace
		remove  = policyv1alpha1.OverriderOpRemove
		reg     = policyv1alpha1.Registry
		repo    = policyv1alpha1.Repository
		tag     = policyv1alpha1.Tag
	)
	tests := []struct {
		name      string
		image     string
		component policyv1alpha1.ImageComponent
		op        policyv1alpha1.OverriderOperator
		value     string
		want      string // empty: an error
	}{
		{"walkthrough tag replace", "nginx", tag, replace, "1.20", "nginx:1.20"},
		{"tag replace existing", "nginx:1.19", tag, replace, "1.20", "nginx:1.20"},
		{"tag add appends", "nginx:1.19", tag, add, "-alpine", "nginx:1.19-alpine"},
		{"tag add without tag", "nginx", tag, add, "1.20", "nginx:1.20"},
		{"tag remove", "nginx:1.19", tag, remove, "", "nginx"},
		{"tag remove digest", "nginx@" + sha, tag, remove, "", "nginx"},
		{"tag remove both", "nginx:1.2@" + sha, tag, remove, "", "nginx"},
		{"tag remove none", "nginx", tag, remove, "", "nginx"},
		{"tag replace with digest drops tag", "nginx:1.19", tag, replace, sha, "nginx@" + sha},
		{"tag replace digest with digest", "nginx@" + sha, tag, replace, sha2, "nginx@" + sha2},
		{"tag replace digest with tag", "reg.io/nginx@" + sha, tag, replace, "1.20", "reg.io/nginx:1.20"},
		{"tag replace both with tag", "nginx:1@" + sha, tag, replace, "2", "nginx:2"},
		{"tag replace sha512", "nginx:1", tag, replace, sha5, "nginx@" + sha5},
		{"tag replace invalid", "nginx", tag, replace, "1.20/x", ""},
		{"tag replace short digest", "nginx", tag, replace, "sha256:abc", ""},
		{"tag add to digest breaks it", "nginx@" + sha, tag, add, "x", ""},
		{"registry replace", "nginx:1.19", reg, replace, "registry.example.com", "registry.example.com/nginx:1.19"},
		{"registry replace existing", "docker.io/library/nginx", reg, replace, "mirror.local:5000", "mirror.local:5000/library/nginx"},
		{"registry replace ipv6", "quay.io/app@" + sha, reg, replace, "[::1]:5000", "[::1]:5000/app@" + sha},
		{"registry replace with path", "nginx", reg, replace, "registry.io/library", "registry.io/library/nginx"},
		{"registry add suffix", "registry.k8s.io/pause:3.10", reg, add, "-cn", "registry.k8s.io-cn/pause:3.10"},
		{"registry add without registry", "nginx", reg, add, "docker.io", "docker.io/nginx"},
		{"registry remove", "registry.k8s.io/pause:3.10", reg, remove, "", "pause:3.10"},
		{"registry remove none", "pause:3.10", reg, remove, "", "pause:3.10"},
		{"registry replace invalid", "nginx", reg, replace, "bad host", ""},
		{"repository replace", "registry.k8s.io/pause:3.10", repo, replace, "mirror/pause", "registry.k8s.io/mirror/pause:3.10"},
		{"repository add", "nginx:1", repo, add, "-debug", "nginx-debug:1"},
		{"repository remove empties", "registry.k8s.io/pause:3.10", repo, remove, "", ""},
		{"repository replace invalid", "nginx", repo, replace, "UPPER", ""},
		{"unknown component", "nginx", "Digest", replace, "x", ""},
		{"unknown operator", "nginx", tag, "set", "x", ""},
		{"invalid input", "Nginx", tag, replace, "1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Override(tt.image, tt.component, tt.op, tt.value)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Override = %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Override: %v", err)
			}
			if got != tt.want {
				t.Fatalf("Override = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidTagOrDigest(t *testing.T) {
	for v, want := range map[string]bool{"1.20": true, "v1": true, sha: true, "": false, "a/b": false, "sha256:x": false} {
		if got := ValidTagOrDigest(v); got != want {
			t.Errorf("ValidTagOrDigest(%q) = %v, want %v", v, got, want)
		}
	}
}
