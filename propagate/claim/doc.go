// Package claim owns the decision of which PropagationPolicy or ClusterPropagationPolicy claims a
// resource template, following Karmada's precedence (an existing claim is kept unless its policy is
// gone, being deleted or no longer matches, or a preempting policy takes the object over), the
// claim annotations recorded on the template, and the rule of which kinds and namespaces are
// propagatable at all. Whether a selector selects an object is propagate/selector's answer.
//
// It is pure: it reads the objects it is given and never talks to an apiserver. It does not decide
// where an object goes (propagate/placement does) and it does not write the template to the host
// (the write pipeline and the reconciler do, with the annotations Set computes).
package claim
