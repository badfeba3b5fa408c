package image

import (
	"fmt"
	"strings"
)

// The grammar below is the one of github.com/distribution/reference, written as small functions
// instead of regular expressions.

func isLower(c byte) bool    { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool    { return isLower(c) || (c >= 'A' && c <= 'Z') }
func isAlnum(c byte) bool    { return isAlpha(c) || isDigit(c) }
func isLowerHex(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') }
func isHex(c byte) bool      { return isLowerHex(c) || (c >= 'A' && c <= 'F') }
func isWord(c byte) bool     { return isAlnum(c) || c == '_' }

// validTag: [\w][\w.-]{0,127}
func validTag(s string) bool {
	if s == "" || len(s) > 128 || !isWord(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isWord(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// validateDigest: algorithm ":" hex, where algorithm is
// [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)* and, as the digest package requires, one of
// the registered algorithms with its exact length of lowercase hex.
func validateDigest(s string) error {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || !validAlgorithm(alg) || len(hex) < 32 {
		return fmt.Errorf("invalid digest %q", s)
	}
	var want int
	switch alg {
	case "sha256":
		want = 64
	case "sha384":
		want = 96
	case "sha512":
		want = 128
	default:
		return fmt.Errorf("invalid digest %q: unsupported algorithm %q", s, alg)
	}
	if len(hex) != want {
		return fmt.Errorf("invalid digest %q: %s needs %d hex characters", s, alg, want)
	}
	for i := 0; i < len(hex); i++ {
		if !isLowerHex(hex[i]) {
			return fmt.Errorf("invalid digest %q: not lowercase hex", s)
		}
	}
	return nil
}

func validAlgorithm(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c):
		case c == '-' || c == '_' || c == '+' || c == '.':
			if i+1 >= len(s) || !isAlpha(s[i+1]) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validDomain: (domainName | "[" IPv6 "]") (":" [0-9]+)?, domainName being dot-separated
// components of [a-zA-Z0-9] with inner "-".
func validDomain(s string) bool {
	var port string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 2 {
			return false
		}
		for i := 1; i < end; i++ {
			if c := s[i]; !isHex(c) && c != ':' {
				return false
			}
		}
		port = s[end+1:]
	} else {
		host := s
		if i := strings.IndexByte(s, ':'); i >= 0 {
			host, port = s[:i], s[i:]
		}
		for {
			c, rest, more := strings.Cut(host, ".")
			if !validDomainComponent(c) {
				return false
			}
			if !more {
				break
			}
			host = rest
		}
	}
	if port == "" {
		return true
	}
	if port[0] != ':' || len(port) == 1 {
		return false
	}
	for i := 1; i < len(port); i++ {
		if !isDigit(port[i]) {
			return false
		}
	}
	return true
}

// validDomainComponent: [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
func validDomainComponent(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// validPathComponent: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
func validPathComponent(s string) bool {
	if s == "" {
		return false
	}
	alnum := func(c byte) bool { return isLower(c) || isDigit(c) }
	i := 0
	for {
		start := i
		for i < len(s) && alnum(s[i]) {
			i++
		}
		if i == start {
			return false
		}
		if i == len(s) {
			return true
		}
		switch {
		case s[i] == '.':
			i++
		case strings.HasPrefix(s[i:], "__"):
			i += 2
		case s[i] == '_':
			i++
		case s[i] == '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// validateRepository checks the slash-separated path components. Without a registry, the first of
// several components may also be a domain component (the grammar lets "Foo/bar" parse with "Foo"
// as a domain, which is not a registry by our rule).
func validateRepository(repo string, noRegistry bool) error {
	if repo == "" {
		return fmt.Errorf("empty repository")
	}
	for i := 0; ; i++ {
		p, rest, more := strings.Cut(repo, "/")
		ok := validPathComponent(p) || (i == 0 && noRegistry && more && validDomainComponent(p))
		if !ok {
			return fmt.Errorf("invalid repository component %q", p)
		}
		if !more {
			return nil
		}
		repo = rest
	}
}
