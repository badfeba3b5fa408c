package webhook

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func review(t *testing.T, path, kind, obj string) *admissionv1.AdmissionResponse {
	t.Helper()
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "u-1", Kind: metav1.GroupVersionKind{Group: "policy.karmada.io", Version: "v1alpha1", Kind: kind},
			Object: runtime.RawExtension{Raw: []byte(obj)}},
	}
	body, _ := json.Marshal(ar)
	rec := httptest.NewRecorder()
	Handlers()[path].ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil || out.Response.UID != "u-1" {
		t.Fatalf("bad review answer %s (%v)", rec.Body, err)
	}
	return out.Response
}

const goodPP = `{"apiVersion":"policy.karmada.io/v1alpha1","kind":"PropagationPolicy","metadata":{"name":"p","namespace":"default"},
"spec":{"resourceSelectors":[{"apiVersion":"apps/v1","kind":"Deployment","name":"nginx"}],"placement":{"spreadConstraints":[{"maxGroups":2}]}}}`

func TestValidate(t *testing.T) {
	if r := review(t, ValidatePath, "PropagationPolicy", goodPP); !r.Allowed {
		t.Errorf("valid policy denied: %+v", r.Result)
	}
	bad := `{"apiVersion":"policy.karmada.io/v1alpha1","kind":"PropagationPolicy","metadata":{"name":"p","namespace":"default"},
"spec":{"resourceSelectors":[{"apiVersion":"apps/v1","kind":"Deployment"}],"placement":{"clusterAffinity":{},"clusterAffinities":[{"affinityName":"a"}],
"replicaScheduling":{"replicaSchedulingType":"Divided","weightPreference":{"staticWeightList":[{"targetCluster":{},"weight":0}]}}}}}`
	r := review(t, ValidatePath, "PropagationPolicy", bad)
	if r.Allowed || r.Result == nil || r.Result.Code != 422 {
		t.Fatalf("invalid policy: %+v", r)
	}
	for _, want := range []string{"spec.placement.clusterAffinities", "spec.placement.replicaScheduling.weightPreference.staticWeightList[0].weight"} {
		if !strings.Contains(r.Result.Message, want) {
			t.Errorf("message does not name %s: %s", want, r.Result.Message)
		}
	}
	op := `{"apiVersion":"policy.karmada.io/v1alpha1","kind":"OverridePolicy","metadata":{"name":"o","namespace":"default"},
"spec":{"overrideRules":[{"overriders":{"plaintext":[{"path":"/spec/replicas","operator":"remove","value":3}]}}]}}`
	if r := review(t, ValidatePath, "OverridePolicy", op); r.Allowed || !strings.Contains(r.Result.Message, "spec.overrideRules[0].overriders.plaintext[0].value") {
		t.Errorf("remove with a value: %+v", r.Result)
	}
	rec := httptest.NewRecorder()
	Handlers()[ValidatePath].ServeHTTP(rec, httptest.NewRequest("POST", ValidatePath, strings.NewReader("{not json")))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("garbage review: %d", rec.Code)
	}
}

func TestMutateDefaultsPropagationPolicies(t *testing.T) {
	r := review(t, MutatePath, "PropagationPolicy", goodPP)
	if !r.Allowed || r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("no patch: %+v", r)
	}
	var ops []struct {
		Op, Path string
		Value    map[string]any
	}
	if err := json.Unmarshal(r.Patch, &ops); err != nil || len(ops) != 1 || ops[0].Path != "/spec" {
		t.Fatalf("patch %s (%v)", r.Patch, err)
	}
	spread := ops[0].Value["placement"].(map[string]any)["spreadConstraints"].([]any)[0].(map[string]any)
	if spread["spreadByField"] != "cluster" || spread["minGroups"] != float64(1) {
		t.Errorf("spread constraint not defaulted: %v", spread)
	}
	sel := ops[0].Value["resourceSelectors"].([]any)[0].(map[string]any)
	if sel["namespace"] != "default" {
		t.Errorf("selector namespace not defaulted: %v", sel)
	}
	// Already defaulted: no patch.
	again, _ := json.Marshal(map[string]any{"apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy",
		"metadata": map[string]any{"name": "p", "namespace": "default"}, "spec": ops[0].Value})
	if r := review(t, MutatePath, "PropagationPolicy", string(again)); !r.Allowed || r.Patch != nil {
		t.Errorf("defaulting is not idempotent: %s", r.Patch)
	}
	if r := review(t, MutatePath, "OverridePolicy", `{"apiVersion":"policy.karmada.io/v1alpha1","kind":"OverridePolicy","metadata":{"name":"o"},"spec":{}}`); !r.Allowed || r.Patch != nil {
		t.Errorf("override policy patched: %+v", r)
	}
}

// Clusters name their credentials in fleetgate-system only, and a Push endpoint must be an https
// URL: the host refuses anything else at admission, naming the field.
func TestValidateCluster(t *testing.T) {
	cluster := func(spec string) string {
		return `{"apiVersion":"cluster.karmada.io/v1alpha1","kind":"Cluster","metadata":{"name":"member1"},"spec":` + spec + `}`
	}
	for _, tc := range []struct {
		name, spec, want string
	}{
		{"as join makes it", `{"syncMode":"Push","apiEndpoint":"https://127.0.0.1:6443","secretRef":{"namespace":"fleetgate-system","name":"member1"},"impersonatorSecretRef":{"namespace":"fleetgate-system","name":"member1-impersonator"}}`, ""},
		{"Pull", `{"syncMode":"Pull"}`, ""},
		{"secret in kube-system", `{"syncMode":"Push","apiEndpoint":"https://127.0.0.1:6443","secretRef":{"namespace":"kube-system","name":"admin-token"}}`, "spec.secretRef.namespace"},
		{"impersonator secret elsewhere", `{"syncMode":"Push","apiEndpoint":"https://127.0.0.1:6443","secretRef":{"namespace":"fleetgate-system","name":"member1"},"impersonatorSecretRef":{"namespace":"default","name":"x"}}`, "spec.impersonatorSecretRef.namespace"},
		{"endpoint not https", `{"syncMode":"Push","apiEndpoint":"http://attacker.example:80","secretRef":{"namespace":"fleetgate-system","name":"member1"}}`, "spec.apiEndpoint"},
		{"proxyURL", `{"syncMode":"Push","apiEndpoint":"https://127.0.0.1:6443","proxyURL":"socks5://127.0.0.1:1080","secretRef":{"namespace":"fleetgate-system","name":"member1"}}`, "spec.proxyURL"},
		{"endpoint not a URL", `{"syncMode":"Push","apiEndpoint":"::not a url","secretRef":{"namespace":"fleetgate-system","name":"member1"}}`, "spec.apiEndpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := review(t, ValidatePath, "Cluster", cluster(tc.spec))
			switch {
			case tc.want == "" && !r.Allowed:
				t.Errorf("denied: %+v", r.Result)
			case tc.want != "" && (r.Allowed || !strings.Contains(r.Result.Message, tc.want)):
				t.Errorf("want denied naming %s, got allowed=%v %+v", tc.want, r.Allowed, r.Result)
			}
		})
	}
}

// A client that sends its body a byte at a time cannot hold a review endpoint (public, no
// credentials) open: the body must arrive within the read deadline, or the answer is 400 and the
// connection is let go while the client is still sending.
func TestReviewBodyReadDeadline(t *testing.T) {
	old := reviewReadTimeout
	reviewReadTimeout = 200 * time.Millisecond
	t.Cleanup(func() { reviewReadTimeout = old })
	srv := httptest.NewServer(Handlers()[ValidatePath])
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const bodyLen = 40
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", ValidatePath, bodyLen)
	var sent atomic.Int32
	go func() {
		tick := time.NewTicker(50 * time.Millisecond) // the slow client: one byte per tick
		defer tick.Stop()
		for range bodyLen {
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
			sent.Add(1)
			<-tick.C
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a trickled body: %v", err)
	}
	resp.Body.Close()
	// With the 200ms deadline the answer comes after a few of the 40 bytes (one per 50ms); without
	// one, only once the whole body is in.
	if n := sent.Load(); n > bodyLen/2 {
		t.Fatalf("the endpoint waited for the trickled body (%d of %d bytes sent)", n, bodyLen)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("trickled body: %s, want 400", resp.Status)
	}
}
