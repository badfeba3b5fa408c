// Package image owns container image references as the imageOverrider sees them: it splits a
// reference into registry, repository and tag-or-digest, puts it back together, and changes one
// component the way a Karmada imageOverrider says (add appends, replace sets, remove clears).
//
// It does not walk objects to find images (package override does) and never invents a default
// registry such as docker.io: the first path segment is a registry only if it contains "." or ":"
// or is "localhost".
package image
