package image

import (
	"errors"
	"fmt"
	"strings"
)

// maxNameLength is the longest registry/repository a reference may have, as in the distribution
// reference grammar.
const maxNameLength = 255

// Reference is a parsed container image reference:
// [registry/]repository[:tag][@digest].
type Reference struct {
	// Registry is the host (optionally with a port), e.g. registry.k8s.io, localhost:5000,
	// [::1]:5000. Empty when the reference names none.
	Registry string
	// Repository is the path below the registry, e.g. library/nginx.
	Repository string
	// Tag is the tag, e.g. 1.27-alpine. Empty when the reference has none.
	Tag string
	// Digest is the content digest, e.g. sha256:<64 hex>. Empty when the reference has none.
	Digest string
}

// Parse splits s into its components. It accepts the references the distribution reference
// grammar accepts and rejects everything else with an error naming s.
func Parse(s string) (Reference, error) {
	r, err := parse(s)
	if err != nil {
		return Reference{}, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	return r, nil
}

func parse(s string) (Reference, error) {
	var r Reference
	if s == "" {
		return r, errors.New("empty")
	}
	if i := strings.IndexByte(s, '@'); i >= 0 {
		r.Digest, s = s[i+1:], s[:i]
		if err := validateDigest(r.Digest); err != nil {
			return r, err
		}
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && i > strings.LastIndexByte(s, '/') {
		r.Tag, s = s[i+1:], s[:i]
		if !validTag(r.Tag) {
			return r, fmt.Errorf("invalid tag %q", r.Tag)
		}
	}
	if len(s) > maxNameLength {
		return r, fmt.Errorf("name longer than %d characters", maxNameLength)
	}
	r.Registry, r.Repository = splitRegistry(s)
	if r.Registry != "" && !validDomain(r.Registry) && !validPathComponent(r.Registry) {
		return r, fmt.Errorf("invalid registry %q", r.Registry)
	}
	if err := validateRepository(r.Repository, r.Registry == ""); err != nil {
		return r, err
	}
	return r, nil
}

// splitRegistry splits name at its first "/" when the first segment contains "." or ":" or is
// "localhost"; otherwise the whole name is the repository.
func splitRegistry(name string) (registry, repository string) {
	i := strings.IndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	first := name[:i]
	if strings.ContainsAny(first, ".:") || first == "localhost" {
		return first, name[i+1:]
	}
	return "", name
}

// String puts the reference back together. For every reference Parse returned,
// Parse(r.String()) returns r again.
func (r Reference) String() string {
	var b strings.Builder
	b.Grow(len(r.Registry) + len(r.Repository) + len(r.Tag) + len(r.Digest) + 3)
	if r.Registry != "" {
		b.WriteString(r.Registry)
		b.WriteByte('/')
	}
	b.WriteString(r.Repository)
	if r.Tag != "" {
		b.WriteByte(':')
		b.WriteString(r.Tag)
	}
	if r.Digest != "" {
		b.WriteByte('@')
		b.WriteString(r.Digest)
	}
	return b.String()
}

// TagOrDigest is the Tag component of an imageOverrider: the tag, or the digest when there is no
// tag.
func (r Reference) TagOrDigest() string {
	if r.Tag != "" {
		return r.Tag
	}
	return r.Digest
}

// SetTagOrDigest sets the Tag component: a value that is a digest (algorithm:hex, e.g.
// sha256:…) becomes the digest and drops the tag; any other value becomes the tag and drops the
// digest. An empty value clears both. A value that is neither a valid tag nor a valid digest is
// an error.
func (r *Reference) SetTagOrDigest(v string) error {
	switch {
	case v == "":
		r.Tag, r.Digest = "", ""
	case strings.Contains(v, ":"):
		if err := validateDigest(v); err != nil {
			return err
		}
		r.Tag, r.Digest = "", v
	default:
		if !validTag(v) {
			return fmt.Errorf("invalid tag %q", v)
		}
		r.Tag, r.Digest = v, ""
	}
	return nil
}

// ValidTagOrDigest reports whether v can be the Tag component of a reference.
func ValidTagOrDigest(v string) bool {
	var r Reference
	return v != "" && r.SetTagOrDigest(v) == nil
}
