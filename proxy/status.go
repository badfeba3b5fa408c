package proxy

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/client-go/kubernetes/scheme"
)

// writeStatus answers with a metav1.Status, the error shape kubectl understands, encoded as the
// client asked (JSON, YAML or protobuf: kubectl's discovery asks for protobuf first and reads a JSON
// error as "unknown").
func writeStatus(w http.ResponseWriter, r *http.Request, code int, reason metav1.StatusReason, message string) {
	err := &apierrors.StatusError{ErrStatus: metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reason,
		Code:     int32(code),
	}}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r == nil {
		r = &http.Request{Header: http.Header{}}
	}
	responsewriters.ErrorNegotiated(err, scheme.Codecs.WithoutConversion(), schema.GroupVersion{Version: "v1"}, w, r)
}
