package image

import "testing"

// FuzzParseImage checks that Parse never panics and that parse → String → parse is stable.
func FuzzParseImage(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		out := r.String()
		if out != s {
			t.Fatalf("String(Parse(%q)) = %q", s, out)
		}
		r2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) succeeded but Parse(String()) = %v", s, err)
		}
		if r2 != r {
			t.Fatalf("Parse(%q) = %+v, Parse(String()) = %+v", s, r, r2)
		}
		if r.TagOrDigest() != "" && !ValidTagOrDigest(r.TagOrDigest()) {
			t.Fatalf("TagOrDigest %q of %q is not valid", r.TagOrDigest(), s)
		}
	})
}
