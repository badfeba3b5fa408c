package v1alpha1

import "bytes"

// JSON holds an arbitrary JSON value (object, array, string, number or boolean) as raw bytes. It
// has the shape and the JSON behaviour of apiextensions-apiserver's JSON type without depending on
// that module: a JSON null is treated as absent, and an absent value marshals as null.
type JSON struct {
	// Raw is the JSON encoding of the value; empty means absent.
	Raw []byte `json:"-"`
}

// MarshalJSON returns Raw, or null when Raw is empty.
func (j JSON) MarshalJSON() ([]byte, error) {
	if len(j.Raw) == 0 {
		return []byte("null"), nil
	}
	return j.Raw, nil
}

// UnmarshalJSON stores a copy of data in Raw; a JSON null leaves Raw empty.
func (j *JSON) UnmarshalJSON(data []byte) error {
	if len(data) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		j.Raw = nil
		return nil
	}
	j.Raw = append(j.Raw[:0], data...)
	return nil
}

// IsZero reports whether the value is absent, so that fields tagged omitzero are left out.
func (j JSON) IsZero() bool {
	return len(j.Raw) == 0
}
