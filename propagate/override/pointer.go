package override

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// The JSON-patch operations add, remove and replace (RFC 6902) on a decoded JSON tree
// (map[string]any, []any and scalars), with the behaviour of the JSON-patch library Karmada uses:
// add on an object key creates or overwrites it, add on an array index inserts ("-" appends),
// replace and remove need an existing target, the parent of the target must exist, and a negative
// array index counts from the end. The path "" is the whole document.

// pointer is a parsed JSON pointer (RFC 6901): its unescaped reference tokens. The empty pointer
// is the whole document.
type pointer struct {
	raw  string
	toks []string
}

// parsePointer parses s, which must be empty or start with "/", with "~" only in "~0" and "~1".
func parsePointer(s string) (pointer, error) {
	p := pointer{raw: s}
	if s == "" {
		return p, nil
	}
	if s[0] != '/' {
		return p, fmt.Errorf("path %q is not a JSON pointer: it must start with \"/\"", s)
	}
	p.toks = strings.Split(s[1:], "/")
	for i, t := range p.toks {
		if strings.IndexByte(t, '~') < 0 {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(t); j++ {
			if t[j] != '~' {
				b.WriteByte(t[j])
				continue
			}
			if j+1 < len(t) && t[j+1] == '0' {
				b.WriteByte('~')
			} else if j+1 < len(t) && t[j+1] == '1' {
				b.WriteByte('/')
			} else {
				return p, fmt.Errorf("path %q is not a JSON pointer: \"~\" must be followed by 0 or 1", s)
			}
			j++
		}
		p.toks[i] = b.String()
	}
	return p, nil
}

var errNotFound = errors.New("not found")

// notFound is the error for a target (or its parent) that does not exist.
func (p pointer) notFound() error {
	return fmt.Errorf("path %q %w", p.raw, errNotFound)
}

// get returns the value at p in root.
func (p pointer) get(root any) (any, error) {
	node := root
	for _, t := range p.toks {
		switch n := node.(type) {
		case map[string]any:
			v, ok := n[t]
			if !ok {
				return nil, p.notFound()
			}
			node = v
		case []any:
			i, err := arrayIndex(t, len(n))
			if err != nil {
				return nil, fmt.Errorf("path %q: %w", p.raw, err)
			}
			node = n[i]
		default:
			return nil, p.notFound()
		}
	}
	return node, nil
}

// patch applies one add, remove or replace operation at p and returns the new root (root itself
// is changed in place where possible; a new root is returned for operations on "" or on arrays
// that change length). value is ignored for remove.
func (p pointer) patch(root any, op policyv1alpha1.OverriderOperator, value any) (any, error) {
	switch op {
	case policyv1alpha1.OverriderOpAdd, policyv1alpha1.OverriderOpReplace, policyv1alpha1.OverriderOpRemove:
	default:
		return nil, fmt.Errorf("unsupported operator %q", op)
	}
	if len(p.toks) == 0 {
		if op == policyv1alpha1.OverriderOpRemove {
			return nil, errors.New("cannot remove the whole document (path \"\")")
		}
		return value, nil
	}
	return p.patchAt(root, p.toks, op, value)
}

func (p pointer) patchAt(node any, toks []string, op policyv1alpha1.OverriderOperator, value any) (any, error) {
	if len(toks) == 1 {
		return p.patchLeaf(node, toks[0], op, value)
	}
	switch n := node.(type) {
	case map[string]any:
		child, ok := n[toks[0]]
		if !ok {
			return nil, p.notFound()
		}
		c, err := p.patchAt(child, toks[1:], op, value)
		if err != nil {
			return nil, err
		}
		n[toks[0]] = c
		return n, nil
	case []any:
		i, err := arrayIndex(toks[0], len(n))
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", p.raw, err)
		}
		c, err := p.patchAt(n[i], toks[1:], op, value)
		if err != nil {
			return nil, err
		}
		n[i] = c
		return n, nil
	}
	return nil, p.notFound()
}

func (p pointer) patchLeaf(node any, key string, op policyv1alpha1.OverriderOperator, value any) (any, error) {
	switch n := node.(type) {
	case map[string]any:
		if _, ok := n[key]; !ok && op != policyv1alpha1.OverriderOpAdd {
			return nil, p.notFound()
		}
		if op == policyv1alpha1.OverriderOpRemove {
			delete(n, key)
		} else {
			n[key] = value
		}
		return n, nil
	case []any:
		if op == policyv1alpha1.OverriderOpAdd {
			i := len(n)
			if key != "-" {
				var err error
				if i, err = arrayIndex(key, len(n)+1); err != nil {
					return nil, fmt.Errorf("path %q: %w", p.raw, err)
				}
			}
			n = append(n, nil)
			copy(n[i+1:], n[i:])
			n[i] = value
			return n, nil
		}
		i, err := arrayIndex(key, len(n))
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", p.raw, err)
		}
		if op == policyv1alpha1.OverriderOpRemove {
			return append(n[:i], n[i+1:]...), nil
		}
		n[i] = value
		return n, nil
	}
	return nil, p.notFound()
}

// arrayIndex parses an array index token for an array of length n: 0 ≤ i < n, or -n ≤ i < 0
// counting from the end.
func arrayIndex(tok string, n int) (int, error) {
	i, err := strconv.Atoi(tok)
	if err != nil {
		return 0, fmt.Errorf("%q is not an array index", tok)
	}
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return 0, fmt.Errorf("array index %s out of range (length %d)", tok, n)
	}
	return i, nil
}
