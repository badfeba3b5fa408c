package memberview

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"testing/iotest"
)

// TestItemReader: the elements of an array come out whole, whatever the reads' sizes, with strings
// holding brackets, quotes and escapes; the fields after the array come out as an object.
func TestItemReader(t *testing.T) {
	items := []string{
		`{"a":1}`,
		`{"s":"}]{[\"\\","n":{"m":[1,{"x":"\\\\"}]}}`,
		`[1,"]",{"k":"\\\"}"}]`,
		`{}`,
		`{"long":"` + strings.Repeat(`ab\"c\\`, 2000) + `"}`,
	}
	body := " \n" + strings.Join(items, " ,\n ") + ` ] , "metadata" : {"resourceVersion":"9"} }`
	for name, wrap := range map[string]func(*strings.Reader) *bufio.Reader{
		"one byte at a time": func(r *strings.Reader) *bufio.Reader { return bufio.NewReaderSize(iotest.OneByteReader(r), 16) },
		"half reads":         func(r *strings.Reader) *bufio.Reader { return bufio.NewReaderSize(iotest.HalfReader(r), 16) },
		"large buffer":       func(r *strings.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) },
	} {
		t.Run(name, func(t *testing.T) {
			ir := &itemReader{r: wrap(strings.NewReader(body))}
			var got []string
			for {
				raw, err := ir.next()
				if err != nil {
					t.Fatal(err)
				}
				if raw == nil {
					break
				}
				if !json.Valid(raw) {
					t.Fatalf("item %d is not JSON: %s", len(got), raw)
				}
				got = append(got, string(raw))
			}
			if len(got) != len(items) {
				t.Fatalf("%d items, want %d: %q", len(got), len(items), got)
			}
			for i := range items {
				if got[i] != items[i] {
					t.Errorf("item %d = %s, want %s", i, got[i], items[i])
				}
			}
			rest, err := ir.rest()
			if err != nil || !bytes.Equal(bytes.Join(bytes.Fields(rest), nil), []byte(`{"metadata":{"resourceVersion":"9"}}`)) {
				t.Errorf("rest = %s, %v", rest, err)
			}
		})
	}
	for _, bad := range []string{`{"a":1`, `{"a":"1}`, `1]`} {
		ir := &itemReader{r: bufio.NewReader(strings.NewReader(bad))}
		if raw, err := ir.next(); err == nil {
			t.Errorf("%s: item %s, want an error", bad, raw)
		}
	}
}
