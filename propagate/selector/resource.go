package selector

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// Specificity says how closely a selector matched an object. A policy counts by its best
// selector; the larger value is the more specific match.
type Specificity int

const (
	// NoMatch means the selector does not select the object.
	NoMatch Specificity = iota
	// MatchAll means the selector has neither name nor labelSelector and selects every object of
	// its apiVersion and kind in scope.
	MatchAll
	// MatchLabels means the selector's labelSelector selects the object.
	MatchLabels
	// MatchName means the selector names the object.
	MatchName
)

// String is the lower-case name used in messages.
func (s Specificity) String() string {
	switch s {
	case MatchAll:
		return "match-all"
	case MatchLabels:
		return "labelSelector"
	case MatchName:
		return "name"
	default:
		return "no match"
	}
}

// Object is what a ResourceSelector looks at; *unstructured.Unstructured satisfies it.
type Object interface {
	GetAPIVersion() string
	GetKind() string
	GetNamespace() string
	GetName() string
	GetLabels() map[string]string
}

// MatchesSelector reports whether rs selects obj, and how specifically. policyNamespace is the
// namespace of a namespaced policy ("" for cluster-scoped policies): there an empty
// rs.Namespace means the policy's own namespace.
//
// The selector's group and kind must be the object's (the version is not compared, as Karmada: an
// autoscaling/v1 selector selects HorizontalPodAutoscalers read as autoscaling/v2); a non-empty namespace must match, and a
// namespaced policy selects only objects of its own namespace; a name, when set, is the only thing compared (labelSelector ignored); otherwise the
// labelSelector, when set, must select the object's labels. An invalid labelSelector selects
// nothing.
func MatchesSelector(obj Object, rs *policyv1alpha1.ResourceSelector, policyNamespace string) (bool, Specificity) {
	if !SameGroupKind(rs.APIVersion, rs.Kind, obj.GetAPIVersion(), obj.GetKind()) {
		return false, NoMatch
	}
	ns := rs.Namespace
	if ns == "" {
		ns = policyNamespace
	}
	if ns != "" && ns != obj.GetNamespace() {
		return false, NoMatch
	}
	if policyNamespace != "" && obj.GetNamespace() != policyNamespace {
		// A namespaced policy never reaches outside its own namespace.
		return false, NoMatch
	}
	if rs.Name != "" {
		if rs.Name == obj.GetName() {
			return true, MatchName
		}
		return false, NoMatch
	}
	if rs.LabelSelector == nil {
		return true, MatchAll
	}
	if LabelsMatch(rs.LabelSelector, obj.GetLabels()) {
		return true, MatchLabels
	}
	return false, NoMatch
}

// MatchesSelectors returns the best match of obj against any of selectors. No selectors select
// nothing: callers decide what an empty list means for their policy kind.
func MatchesSelectors(obj Object, selectors []policyv1alpha1.ResourceSelector, policyNamespace string) (bool, Specificity) {
	best := NoMatch
	for i := range selectors {
		if _, s := MatchesSelector(obj, &selectors[i], policyNamespace); s > best {
			best = s
			if best == MatchName {
				break
			}
		}
	}
	return best != NoMatch, best
}

// LabelsMatch reports whether the label selector sel selects a set of labels. A nil selector
// selects everything; an invalid one selects nothing.
func LabelsMatch(sel *metav1.LabelSelector, set map[string]string) bool {
	if sel == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(set))
}

// SameGroupKind reports whether two apiVersion/kind pairs name the same kind: same group and kind,
// whatever the versions.
func SameGroupKind(apiVersionA, kindA, apiVersionB, kindB string) bool {
	return kindA == kindB && groupOf(apiVersionA) == groupOf(apiVersionB)
}

// groupOf is the group of an apiVersion ("apps/v1" → "apps", "v1" → "").
func groupOf(apiVersion string) string {
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}
