// Package names owns the names fleetgate derives for propagation, each defined exactly once: the
// (Cluster)ResourceBinding name of a template, the finalizer that keeps a propagated template until
// its member copies are gone, and the field manager of every propagation write (to the host and to
// members). The write pipeline and the reconciler both use these, so they always look up and
// write the same objects.
//
// It does not name anything a user chooses, and it does not hold the labels and annotations of
// member copies (propagate/member does).
package names
