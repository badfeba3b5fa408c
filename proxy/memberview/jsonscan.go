package memberview

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// A merged list rewrites thousands of member objects per request. Decoding each into maps and
// encoding it again was most of the gateway's CPU (the member-view benchmark's profile: json
// Unmarshal and Marshal under decorator.object, 62%), so the common rewrites are splices into the
// member's bytes, found by the scanner below; anything unusual takes the decoding path.

var errSyntax = errors.New("malformed JSON from member")

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first byte at or after i that is not white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue returns the index just after the JSON value that starts at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = skipString(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// skipString returns the index just after the string that starts at b[i] ('"'), or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// eachField calls f with every member of the object at b[i] ('{'): its key as written (the keys
// looked for have no escapes) and its value's range. f returning false stops early. It reports
// whether the object is well formed (as far as it was read).
func eachField(b []byte, i int, f func(key []byte, vs, ve int) bool) bool {
	if i >= len(b) || b[i] != '{' {
		return false
	}
	j := skipSpace(b, i+1)
	if j < len(b) && b[j] == '}' {
		return true
	}
	for j < len(b) {
		if b[j] != '"' {
			return false
		}
		ke := skipString(b, j)
		if ke < 0 {
			return false
		}
		key := b[j+1 : ke-1]
		j = skipSpace(b, ke)
		if j >= len(b) || b[j] != ':' {
			return false
		}
		vs := skipSpace(b, j+1)
		ve := skipValue(b, vs)
		if ve < 0 {
			return false
		}
		if !f(key, vs, ve) {
			return true
		}
		j = skipSpace(b, ve)
		if j >= len(b) {
			return false
		}
		switch b[j] {
		case '}':
			return true
		case ',':
			j = skipSpace(b, j+1)
		default:
			return false
		}
	}
	return false
}

// isEmptyContainer reports whether the object or array at b[i:end] has no members.
func isEmptyContainer(b []byte, i int) bool {
	j := skipSpace(b, i+1)
	return j < len(b) && (b[j] == '}' || b[j] == ']')
}

// splice is a replacement of b[at:end] (an insertion when end == at).
type splice struct {
	at, end int
	text    []byte
}

// applySplices returns b with the splices (in increasing, non-overlapping order) applied.
func applySplices(b []byte, edits []splice) []byte {
	n := len(b)
	for _, e := range edits {
		n += len(e.text) - (e.end - e.at)
	}
	out := make([]byte, 0, n)
	prev := 0
	for _, e := range edits {
		out = append(out, b[prev:e.at]...)
		out = append(out, e.text...)
		prev = e.end
	}
	return append(out, b[prev:]...)
}

// itemReader reads the elements of a JSON array from a stream, one at a time, without decoding
// them.
type itemReader struct {
	r   *bufio.Reader
	buf []byte
}

// next returns the next element (valid until the following call), nil after the array's ']'.
func (ir *itemReader) next() ([]byte, error) {
	// Up to the element's first byte: white space and the comma after the previous element.
	for {
		c, err := ir.r.ReadByte()
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		if isSpace(c) || c == ',' {
			continue
		}
		if c == ']' {
			return nil, nil
		}
		if c != '{' && c != '[' {
			return nil, errSyntax // list items are objects
		}
		ir.buf = append(ir.buf[:0], c)
		break
	}
	depth, inString := 1, false
	for {
		chunk, err := ir.r.Peek(max(1, ir.r.Buffered()))
		if len(chunk) == 0 {
			return nil, unexpectedEOF(err)
		}
		// Jump from one byte that matters to the next: in a string its end or an escape, outside
		// one a string's start or a bracket.
		i := 0
		for i < len(chunk) {
			if inString {
				j := bytes.IndexAny(chunk[i:], "\"\\")
				if j < 0 {
					i = len(chunk)
					break
				}
				i += j
				if chunk[i] == '\\' {
					if i+1 == len(chunk) {
						break // the escaped byte is in the next chunk: keep the backslash for it
					}
					i += 2
					continue
				}
				inString = false
				i++
				continue
			}
			j := bytes.IndexAny(chunk[i:], "\"{}[]")
			if j < 0 {
				i = len(chunk)
				break
			}
			i += j
			switch chunk[i] {
			case '"':
				inString = true
			case '{', '[':
				depth++
			default:
				if depth--; depth == 0 {
					ir.buf = append(ir.buf, chunk[:i+1]...)
					_, _ = ir.r.Discard(i + 1)
					return ir.buf, nil
				}
			}
			i++
		}
		if i == 0 {
			// A lone backslash at the end of what is buffered: read on until the byte after it.
			more, err := ir.r.Peek(2)
			if len(more) < 2 {
				return nil, unexpectedEOF(err)
			}
			ir.buf = append(ir.buf, more...)
			_, _ = ir.r.Discard(2)
			continue
		}
		ir.buf = append(ir.buf, chunk[:i]...)
		_, _ = ir.r.Discard(i)
	}
}

// rest returns what follows the array in the enclosing object, as an object of its own: the
// fields after "items" (a list's metadata may come last).
func (ir *itemReader) rest() ([]byte, error) {
	tail, err := io.ReadAll(ir.r)
	if err != nil {
		return nil, err
	}
	tail = bytes.TrimSpace(tail)
	switch {
	case len(tail) > 0 && tail[0] == ',':
		return append([]byte{'{'}, tail[1:]...), nil
	case len(tail) > 0 && tail[0] == '}':
		return []byte("{}"), nil
	}
	return nil, errSyntax
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
