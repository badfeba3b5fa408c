package webhook

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
	"github.com/fleetgate/fleetgate/apis/policy/v1alpha1/validation"
	"github.com/fleetgate/fleetgate/certs"
)

// Paths of the two endpoints.
const (
	MutatePath   = "/webhooks/policies/mutate"
	ValidatePath = "/webhooks/policies/validate"
)

// Handlers returns the endpoints by path.
func Handlers() map[string]http.Handler {
	return map[string]http.Handler{
		MutatePath:   reviewHandler(mutate),
		ValidatePath: reviewHandler(validate),
	}
}

const maxReviewBytes = 3 << 20

// reviewReadTimeout bounds how long a review's body may take to arrive (kube-apiserver gives its
// webhooks 10s at most; 30s leaves room for a slow host).
var reviewReadTimeout = 30 * time.Second

// reviewHandler decodes an AdmissionReview, lets review answer it, and encodes the answer.
func reviewHandler(review func(*admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST an admission.k8s.io/v1 AdmissionReview", http.StatusMethodNotAllowed)
			return
		}
		// The endpoint is public: a body that trickles in may not hold the connection.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(reviewReadTimeout))
		body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewBytes))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var ar admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &ar); err != nil || ar.Request == nil {
			http.Error(w, fmt.Sprintf("not an AdmissionReview: %v", err), http.StatusBadRequest)
			return
		}
		resp := review(ar.Request)
		resp.UID = ar.Request.UID
		out := admissionv1.AdmissionReview{TypeMeta: ar.TypeMeta, Response: resp}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}

func decode(req *admissionv1.AdmissionRequest) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(req.Object.Raw); err != nil {
		return nil, fmt.Errorf("decode %s: %w", req.Kind.Kind, err)
	}
	return obj, nil
}

func deny(err error) *admissionv1.AdmissionResponse {
	status := metav1.Status{Status: metav1.StatusFailure, Code: http.StatusBadRequest, Reason: metav1.StatusReasonBadRequest, Message: err.Error()}
	if s, ok := err.(apierrors.APIStatus); ok {
		status = s.Status()
	}
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &status}
}

// validate applies Karmada's rules to a policy, and fleetgate's to a Cluster.
func validate(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	obj, err := decode(req)
	if err != nil {
		return deny(err)
	}
	if obj.GetKind() == "Cluster" && obj.GroupVersionKind().Group == clusterv1alpha1.GroupVersion.Group {
		return validateCluster(obj)
	}
	errs, err := validation.ValidateObject(obj)
	if err != nil {
		return deny(err)
	}
	if len(errs) > 0 {
		return deny(apierrors.NewInvalid(policyv1alpha1.Kind(obj.GetKind()), obj.GetName(), errs))
	}
	return &admissionv1.AdmissionResponse{Allowed: true}
}

// mutate applies Karmada's defaults to a propagation policy's spec (a JSON patch replacing /spec);
// override policies have no defaults beyond their schema's.
func mutate(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	obj, err := decode(req)
	if err != nil {
		return deny(err)
	}
	var spec *policyv1alpha1.PropagationSpec
	switch obj.GetKind() {
	case "PropagationPolicy":
		var p policyv1alpha1.PropagationPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &p); err != nil {
			return deny(err)
		}
		validation.SetPropagationPolicyDefaults(&p)
		spec = &p.Spec
	case "ClusterPropagationPolicy":
		var p policyv1alpha1.ClusterPropagationPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &p); err != nil {
			return deny(err)
		}
		validation.SetClusterPropagationPolicyDefaults(&p)
		spec = &p.Spec
	default:
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	want, err := runtime.DefaultUnstructuredConverter.ToUnstructured(spec)
	if err != nil {
		return deny(err)
	}
	if equalJSON(want, obj.Object["spec"]) {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	patch, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/spec", "value": want}})
	if err != nil {
		return deny(err)
	}
	pt := admissionv1.PatchTypeJSONPatch
	return &admissionv1.AdmissionResponse{Allowed: true, Patch: patch, PatchType: &pt}
}

func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// validateCluster: a Cluster names its credentials in fleetgate-system only (the gateway reads no
// other namespace's Secrets for it, see bootstrap/access), a Push endpoint is an https URL, and
// there is no proxyURL (not supported: bootstrap/access refuses it).
func validateCluster(obj *unstructured.Unstructured) *admissionv1.AdmissionResponse {
	var c clusterv1alpha1.Cluster
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &c); err != nil {
		return deny(err)
	}
	var errs field.ErrorList
	spec := field.NewPath("spec")
	for name, ref := range map[string]*clusterv1alpha1.LocalSecretReference{"secretRef": c.Spec.SecretRef, "impersonatorSecretRef": c.Spec.ImpersonatorSecretRef} {
		if ref != nil && ref.Namespace != certs.Namespace {
			errs = append(errs, field.NotSupported(spec.Child(name, "namespace"), ref.Namespace, []string{certs.Namespace}))
		}
	}
	if e := c.Spec.APIEndpoint; e != "" {
		if u, err := url.Parse(e); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, field.Invalid(spec.Child("apiEndpoint"), e, "must be an https://host[:port] URL"))
		}
	}
	if c.Spec.ProxyURL != "" {
		// The gateway does not dial through proxies: such a Cluster would be unreachable without a word.
		errs = append(errs, field.Forbidden(spec.Child("proxyURL"), "fleetgate does not reach members through a proxy; leave it empty (or register the member in Pull mode)"))
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
		return deny(apierrors.NewInvalid(clusterv1alpha1.GroupVersion.WithKind("Cluster").GroupKind(), c.Name, errs))
	}
	return &admissionv1.AdmissionResponse{Allowed: true}
}
