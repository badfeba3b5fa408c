package crds

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// fakeAPIServer serves just enough of apiextensions.k8s.io/v1 customresourcedefinitions for
// Install: server-side apply (PATCH) and GET. A CRD becomes Established after establishAfter GETs
// of it; names listed in reject get NamesAccepted=False.
type fakeAPIServer struct {
	t              *testing.T
	establishAfter int
	reject         map[string]bool

	mu      sync.Mutex
	applied map[string]map[string]any
	gets    map[string]int
	applies int
}

const crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, ok := strings.CutPrefix(r.URL.Path, crdPath)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodPatch:
		q := r.URL.Query()
		if ct := r.Header.Get("Content-Type"); ct != "application/apply-patch+yaml" {
			f.t.Errorf("apply %s: Content-Type %q", name, ct)
		}
		if q.Get("fieldManager") != FieldManager || q.Get("force") != "true" {
			f.t.Errorf("apply %s: query %q, want fieldManager=%s and force=true", name, r.URL.RawQuery, FieldManager)
		}
		body, _ := io.ReadAll(r.Body)
		obj := map[string]any{}
		if err := yaml.Unmarshal(body, &obj); err != nil {
			f.t.Errorf("apply %s: body: %v", name, err)
		}
		f.applied[name] = obj
		f.applies++
		writeJSON(w, obj)
	case http.MethodGet:
		obj, ok := f.applied[name]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			writeJSON(w, map[string]any{"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
			return
		}
		f.gets[name]++
		var conds []any
		switch {
		case f.reject[name]:
			conds = append(conds, map[string]any{"type": "NamesAccepted", "status": "False", "message": "shortName pp is already in use"})
		case f.gets[name] > f.establishAfter:
			conds = append(conds, map[string]any{"type": "Established", "status": "True"})
		default:
			conds = append(conds, map[string]any{"type": "Established", "status": "False", "message": "not yet"})
		}
		obj["status"] = map[string]any{"conditions": conds}
		writeJSON(w, obj)
	default:
		http.Error(w, "unexpected method", http.StatusMethodNotAllowed)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func TestInstall(t *testing.T) {
	tests := []struct {
		name           string
		establishAfter int
		reject         string
		timeout        time.Duration
		wantErr        string
	}{
		{name: "established at once", establishAfter: 0, timeout: 10 * time.Second},
		{name: "established after a poll", establishAfter: 1, timeout: 10 * time.Second},
		{name: "names rejected", reject: "propagationpolicies.policy.karmada.io", timeout: 10 * time.Second,
			wantErr: "CRD propagationpolicies.policy.karmada.io: names not accepted: shortName pp is already in use"},
		{name: "never established", establishAfter: 1 << 30, timeout: 3 * time.Second,
			wantErr: "wait for CRD clusteroverridepolicies.policy.karmada.io to be Established: context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeAPIServer{t: t, establishAfter: tt.establishAfter, reject: map[string]bool{tt.reject: true},
				applied: map[string]map[string]any{}, gets: map[string]int{}}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
			defer cancel()

			err := Install(ctx, &rest.Config{Host: srv.URL})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Install() = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Install(): %v", err)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			for _, n := range Names() {
				obj, ok := fake.applied[n]
				if !ok {
					t.Errorf("CRD %s was not applied", n)
					continue
				}
				if obj["kind"] != "CustomResourceDefinition" || obj["apiVersion"] != "apiextensions.k8s.io/v1" {
					t.Errorf("CRD %s applied as %v %v", n, obj["apiVersion"], obj["kind"])
				}
				if fake.gets[n] <= tt.establishAfter {
					t.Errorf("CRD %s: Install returned before it was Established", n)
				}
			}
		})
	}
}

// A restart over the CRDs it installed before writes nothing: each CRD carries the hash of what was
// applied, and an equal one is only read. A changed CRD is applied again.
func TestInstallAgainWritesNothing(t *testing.T) {
	fake := &fakeAPIServer{t: t, reject: map[string]bool{}, applied: map[string]map[string]any{}, gets: map[string]int{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	if err := Install(t.Context(), &rest.Config{Host: srv.URL}); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	first := fake.applies
	fake.mu.Unlock()
	if first != len(Names()) {
		t.Fatalf("first install applied %d CRDs, want %d", first, len(Names()))
	}
	if err := Install(t.Context(), &rest.Config{Host: srv.URL}); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	again := fake.applies - first
	n := Names()[0]
	meta := fake.applied[n]["metadata"].(map[string]any)
	meta["annotations"].(map[string]any)[AnnotationContentHash] = "an older CRD"
	fake.mu.Unlock()
	if again != 0 {
		t.Errorf("second install applied %d CRDs, want none", again)
	}
	if err := Install(t.Context(), &rest.Config{Host: srv.URL}); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if changed := fake.applies - first; changed != 1 {
		t.Errorf("install over one changed CRD applied %d, want 1", changed)
	}
}
