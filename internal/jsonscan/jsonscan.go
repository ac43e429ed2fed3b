// Package jsonscan reads JSON documents quickly where encoding/json would scan the same
// bytes several times: a validator several times faster than json.Valid, and cursors over
// the members of an object and the elements of an array that return raw sub-slices
// without allocating.
//
// ParseStrict is the validation pass of a request body: what encoding/json accepts, minus
// what two readers could read differently (a key given twice, a string that is not valid
// UTF-8), which it refuses with the offset of the fault.
//
// It is a fast path only. Valid never accepts what json.Valid rejects (fuzz-tested), and
// Fields reports when encoding/json could read an object differently (a key matched only
// by case folding, an escaped or non-ASCII key, a field given twice), so that callers fall
// back to encoding/json and keep its exact behaviour. The cursors must be given valid JSON
// (checked by Valid, or produced by a successful encoding/json decode); on other input they
// never panic but their result is unspecified.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Valid reports whether data is exactly one JSON value, optionally surrounded by
// whitespace, by the grammar encoding/json accepts (any byte from 0x20 up in strings,
// invalid UTF-8 included).
func Valid(data []byte) bool { return valid(data, nil, maxDepth, math.MaxInt, nil) }

// Index is a document checked by Parse with the end of every object and array, so that
// the cursors skip a nested value in one lookup instead of reading it again at every
// level. A nil *Index is allowed: its cursors read the bytes.
type Index struct {
	data  []byte
	opens []int32 // offsets of '{' and '[' in document order
	ends  []int32 // the offset just after the matching '}' or ']'
}

// Parse is Valid that also indexes the containers of data (nil when data is not valid).
func Parse(data []byte) (*Index, bool) { return ParseWithin(data, maxDepth, math.MaxInt) }

// ParseWithin is Parse that also fails when objects and arrays nest deeper than depth or
// a string (a key or a value) is longer than str bytes between its quotes, escapes as
// sent.
func ParseWithin(data []byte, depth, str int) (*Index, bool) {
	if len(data) > math.MaxInt32 {
		return nil, false
	}
	x := &Index{data: data}
	if !valid(data, x, min(depth, maxDepth), str, nil) {
		return nil, false
	}
	return x, true
}

// ErrSyntax is the error of ParseStrict for data that is not one JSON value within the
// limits (what ParseWithin refuses); encoding/json then explains where and why.
var ErrSyntax = errors.New("jsonscan: not valid JSON within the limits")

// StrictError is what ParseStrict refuses in otherwise valid JSON: invalid UTF-8 in a
// string, or a key given twice in one object. Offset is the byte offset of the string
// or key at fault; Reason is client-safe (it never quotes the document).
type StrictError struct {
	Offset int
	Reason string
}

func (e *StrictError) Error() string { return e.Reason }

// ParseStrict is ParseWithin for a request body, which must read the same to every
// reader: it also refuses a string that is not valid UTF-8 (an invalid byte sequence, or
// an escaped lone surrogate, which encoding/json would replace by U+FFFD) and an object
// that gives a key twice (compared after unescaping, so "a" and "\u0061" are one key),
// where encoding/json keeps the last and another parser the first. The error is a
// *StrictError for these, ErrSyntax otherwise.
func ParseStrict(data []byte, depth, str int) (*Index, error) {
	if len(data) > math.MaxInt32 {
		return nil, ErrSyntax
	}
	x := &Index{data: data}
	st := &strict{}
	if !valid(data, x, min(depth, maxDepth), str, st) {
		if st.err != nil {
			return nil, st.err
		}
		return nil, ErrSyntax
	}
	return x, nil
}

// strict is the state of the strict checks of one ParseStrict pass: the keys of every
// open object, so that a key given twice is seen.
type strict struct {
	err    *StrictError
	keys   [][]byte      // the keys of the open objects, outermost first (unescaped)
	frames []strictFrame // one per open container
}

type strictFrame struct {
	start int                 // the first key of this object in keys
	set   map[string]struct{} // its keys once they are many (linear search below)
}

// manyKeys is the number of keys from which an object's keys go in a map.
const manyKeys = 16

func (st *strict) push() { st.frames = append(st.frames, strictFrame{start: len(st.keys)}) }

func (st *strict) pop() {
	f := st.frames[len(st.frames)-1]
	st.frames = st.frames[:len(st.frames)-1]
	st.keys = st.keys[:f.start]
}

// key records the key at data[i:end] (quotes included) of the innermost object and
// reports false (with st.err) when the object has it already.
func (st *strict) key(data []byte, i, end int) bool {
	k := data[i+1 : end-1]
	if bytes.IndexByte(k, '\\') >= 0 {
		s, ok := String(data[i:end])
		if !ok {
			return true // not valid: the syntax check says so
		}
		k = []byte(s)
	}
	f := &st.frames[len(st.frames)-1]
	dup := false
	if f.set != nil {
		_, dup = f.set[string(k)]
	} else {
		for _, seen := range st.keys[f.start:] {
			if bytes.Equal(seen, k) {
				dup = true
				break
			}
		}
	}
	if dup {
		st.err = &StrictError{Offset: i, Reason: "a key is given twice in one object"}
		return false
	}
	st.keys = append(st.keys, k)
	if f.set != nil {
		f.set[string(k)] = struct{}{}
	} else if len(st.keys)-f.start >= manyKeys {
		f.set = make(map[string]struct{}, 2*manyKeys)
		for _, seen := range st.keys[f.start:] {
			f.set[string(seen)] = struct{}{}
		}
	}
	return true
}

// text checks that the string at data[i:end] (quotes included, valid JSON) is valid
// UTF-8 once unescaped: no invalid byte sequence, no lone surrogate escape.
func (st *strict) text(data []byte, i, end int) bool {
	s := data[i+1 : end-1]
	for j := 0; j < len(s); {
		c := s[j]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s[j:])
			if r == utf8.RuneError && size == 1 {
				st.err = &StrictError{Offset: i, Reason: "a string is not valid UTF-8"}
				return false
			}
			j += size
		case c == '\\' && j+1 < len(s) && s[j+1] == 'u':
			r := hex4(s[j+2 : j+6])
			j += 6
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				st.err = &StrictError{Offset: i, Reason: "a string holds a lone UTF-16 surrogate escape"}
				return false
			case r >= 0xD800 && r <= 0xDBFF:
				if j+6 > len(s) || s[j] != '\\' || s[j+1] != 'u' {
					st.err = &StrictError{Offset: i, Reason: "a string holds a lone UTF-16 surrogate escape"}
					return false
				}
				if lo := hex4(s[j+2 : j+6]); lo < 0xDC00 || lo > 0xDFFF {
					st.err = &StrictError{Offset: i, Reason: "a string holds a lone UTF-16 surrogate escape"}
					return false
				}
				j += 6
			}
		case c == '\\':
			j += 2
		default:
			j++
		}
	}
	return true
}

// hex4 is the value of four hex digits (valid JSON: checked before).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// maxDepth is the nesting encoding/json accepts (its scanner's maxNestingDepth).
const maxDepth = 10000

// maxIndexed caps the containers an Index records (512 KiB), so that a body made of tiny
// arrays cannot make the index several times its size; the cursors read the rest.
const maxIndexed = 1 << 16

// valid checks data; st, when set, adds the strict checks of ParseStrict.
func valid(data []byte, x *Index, depth, str int, st *strict) bool {
	var stackBuf [64]byte
	stack := stackBuf[:0] // '{' or '[' per open container
	var openBuf [64]int32
	open := openBuf[:0] // with x: the index in x.opens of each open container, or -1
	push := func(c byte, i int) bool {
		stack = append(stack, c)
		if st != nil {
			st.push()
		}
		if x != nil {
			if len(x.opens) < maxIndexed {
				open = append(open, int32(len(x.opens)))
				x.opens = append(x.opens, int32(i))
				x.ends = append(x.ends, 0)
			} else {
				open = append(open, -1)
			}
		}
		return len(stack) <= depth
	}
	i := skipWS(data, 0)
	for {
		// A value starts at i.
		if i >= len(data) {
			return false
		}
		switch c := data[i]; {
		case c == '{':
			start := i
			i = skipWS(data, i+1)
			if i < len(data) && data[i] == '}' {
				if len(stack) >= depth { // an empty object nests too
					return false
				}
				i++
				break
			}
			if !push('{', start) {
				return false
			}
			var ok bool
			if i, ok = key(data, i, str, st); !ok {
				return false
			}
			continue
		case c == '[':
			start := i
			i = skipWS(data, i+1)
			if i < len(data) && data[i] == ']' {
				if len(stack) >= depth {
					return false
				}
				i++
				break
			}
			if !push('[', start) {
				return false
			}
			continue
		case c == '"':
			start := i
			var ok bool
			if i, ok = validString(data, i, str); !ok {
				return false
			}
			if st != nil && !st.text(data, start, i) {
				return false
			}
		case c == 't':
			if !bytes.HasPrefix(data[i:], []byte("true")) {
				return false
			}
			i += 4
		case c == 'f':
			if !bytes.HasPrefix(data[i:], []byte("false")) {
				return false
			}
			i += 5
		case c == 'n':
			if !bytes.HasPrefix(data[i:], []byte("null")) {
				return false
			}
			i += 4
		case c == '-' || (c >= '0' && c <= '9'):
			var ok bool
			if i, ok = number(data, i); !ok {
				return false
			}
		default:
			return false
		}
		// A value ended at i: close containers or move to the next element.
		for {
			i = skipWS(data, i)
			if len(stack) == 0 {
				return i == len(data)
			}
			if i >= len(data) {
				return false
			}
			top := stack[len(stack)-1]
			c := data[i]
			if c == ',' {
				i = skipWS(data, i+1)
				if top == '{' {
					var ok bool
					if i, ok = key(data, i, str, st); !ok {
						return false
					}
				}
				break
			}
			if (top == '{' && c == '}') || (top == '[' && c == ']') {
				stack = stack[:len(stack)-1]
				if st != nil {
					st.pop()
				}
				i++
				if x != nil {
					if k := open[len(open)-1]; k >= 0 {
						x.ends[k] = int32(i)
					}
					open = open[:len(open)-1]
				}
				continue
			}
			return false
		}
	}
}

// key reads `"name" :` and the whitespace after the colon; st, when set, checks the key
// (UTF-8, not given before in its object).
func key(data []byte, i, str int, st *strict) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return i, false
	}
	start := i
	i, ok := validString(data, i, str)
	if !ok {
		return i, false
	}
	if st != nil && (!st.text(data, start, i) || !st.key(data, start, i)) {
		return i, false
	}
	i = skipWS(data, i)
	if i >= len(data) || data[i] != ':' {
		return i, false
	}
	return skipWS(data, i+1), true
}

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// plain marks the string bytes that need no check: not a quote, a backslash or a
// control character.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// validString checks the string starting at data[i] == '"', at most str bytes long, and
// returns the index after its closing quote.
func validString(data []byte, i, str int) (int, bool) {
	start := i
	i++
	for i < len(data) {
		c := data[i]
		if plain[c] {
			i++
			continue
		}
		switch c {
		case '"':
			return i + 1, i-start-1 <= str
		case '\\':
			if i+1 >= len(data) {
				return i, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return i, false
				}
				for _, h := range data[i+2 : i+6] {
					if !isHex(h) {
						return i, false
					}
				}
				i += 6
			default:
				return i, false
			}
		default: // a control character
			return i, false
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at data[i].
func number(data []byte, i int) (int, bool) {
	if data[i] == '-' {
		i++
	}
	if i >= len(data) {
		return i, false
	}
	switch {
	case data[i] == '0':
		i++
	case data[i] >= '1' && data[i] <= '9':
		i = digits(data, i+1)
	default:
		return i, false
	}
	if i < len(data) && data[i] == '.' {
		j := digits(data, i+1)
		if j == i+1 {
			return i, false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

func digits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}

// end is the index just after the value that starts at data[i]: one lookup for an
// indexed container, else reading it.
func (x *Index) end(data []byte, i int) int {
	if x != nil && i < len(data) && (data[i] == '{' || data[i] == '[') {
		if off, ok := x.offset(data); ok {
			if k, found := slices.BinarySearch(x.opens, int32(off+i)); found {
				return int(x.ends[k]) - off
			}
		}
	}
	return end(data, i)
}

// Contains reports whether v is exactly one object or array of the indexed document (a
// value its cursors returned): such a part is known to be valid JSON.
func (x *Index) Contains(v []byte) bool {
	if x == nil || len(v) == 0 || (v[0] != '{' && v[0] != '[') {
		return false
	}
	off, ok := x.offset(v)
	if !ok {
		return false
	}
	k, found := slices.BinarySearch(x.opens, int32(off))
	return found && int(x.ends[k]) == off+len(v)
}

// offset is the position of v in the indexed document, when v is a part of it.
func (x *Index) offset(v []byte) (int, bool) {
	if len(v) == 0 || len(x.data) == 0 {
		return 0, false
	}
	off := cap(x.data) - cap(v)
	if off < 0 || off >= len(x.data) || &x.data[off] != &v[0] {
		return 0, false
	}
	return off, true
}

// end returns the index just after the value that starts at data[i] (valid JSON).
func end(data []byte, i int) int {
	if i >= len(data) {
		return len(data)
	}
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = stringEnd(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(data)
	default: // a literal or a number
		for i < len(data) {
			switch data[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return len(data)
	}
}

// stringEnd returns the index after the closing quote of the string at data[i] == '"'.
func stringEnd(data []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(data[i:], '"')
		if j < 0 {
			return len(data)
		}
		q := i + j
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for k := q - 1; k >= i && data[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
}

// Members calls fn with the raw key (between its quotes, escapes as sent) and the raw
// value of each member of the object obj, in order, until fn returns false. obj is one
// valid JSON object, optionally surrounded by whitespace.
func Members(obj []byte, fn func(key, value []byte) bool) { (*Index)(nil).Members(obj, fn) }

// Members is Members over a part of the indexed document (or any valid JSON).
func (x *Index) Members(obj []byte, fn func(key, value []byte) bool) {
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return
	}
	i = skipWS(obj, i+1)
	for i < len(obj) && obj[i] == '"' {
		ke := stringEnd(obj, i)
		k := obj[i+1 : max(ke-1, i+1)]
		i = skipWS(obj, ke)
		if i >= len(obj) || obj[i] != ':' {
			return
		}
		i = skipWS(obj, i+1)
		ve := x.end(obj, i)
		if !fn(k, obj[i:ve]) {
			return
		}
		i = skipWS(obj, ve)
		if i >= len(obj) || obj[i] != ',' {
			return
		}
		i = skipWS(obj, i+1)
	}
}

// Elements calls fn with each raw element of the array arr, in order, until fn returns
// false. arr is one valid JSON array, optionally surrounded by whitespace.
func Elements(arr []byte, fn func(elem []byte) bool) { (*Index)(nil).Elements(arr, fn) }

// Elements is Elements over a part of the indexed document (or any valid JSON).
func (x *Index) Elements(arr []byte, fn func(elem []byte) bool) {
	i := skipWS(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return
	}
	i = skipWS(arr, i+1)
	for i < len(arr) && arr[i] != ']' {
		ve := x.end(arr, i)
		if ve <= i || !fn(arr[i:ve]) {
			return
		}
		i = skipWS(arr, ve)
		if i >= len(arr) || arr[i] != ',' {
			return
		}
		i = skipWS(arr, i+1)
	}
}

// Fields calls fn(n, value) for each member of the object obj whose key is exactly
// names[n], in order, and ignores the members named otherwise, as encoding/json decoding
// into a struct with those field names would. It returns false, without calling fn
// further, when encoding/json could decide otherwise: obj is not an object, a key is
// escaped or not ASCII, a key equals a name only when case is folded, a name occurs
// twice, or fn returns false (a value of the wrong type).
func Fields(obj []byte, names []string, fn func(n int, value []byte) bool) bool {
	return (*Index)(nil).Fields(obj, names, fn)
}

// Fields is Fields over a part of the indexed document (or any valid JSON).
func (x *Index) Fields(obj []byte, names []string, fn func(n int, value []byte) bool) bool {
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	var seen uint64 // names[n] seen; at most 64 names
	if len(names) > 64 {
		return false
	}
	ok := true
	x.Members(obj, func(k, v []byte) bool {
		for _, c := range k {
			if c == '\\' || c >= utf8.RuneSelf {
				ok = false
				return false
			}
		}
		for n, name := range names {
			if string(k) == name {
				if seen&(1<<n) != 0 || !fn(n, v) {
					ok = false
					return false
				}
				seen |= 1 << n
				return true
			}
		}
		for _, name := range names {
			if strings.EqualFold(string(k), name) {
				ok = false
				return false
			}
		}
		return true
	})
	return ok
}

// String returns the string that the raw JSON value v decodes to, exactly as
// encoding/json decodes it (escapes, invalid UTF-8 replaced); ok is false when v is not a
// string.
func String(v []byte) (s string, ok bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return string(in), true
	}
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// StringOrNull reads the raw JSON value v into dst when it is a string (as String) and
// leaves dst unchanged when it is null; it reports false for any other value.
func StringOrNull(v []byte, dst *string) bool {
	if IsNull(v) {
		return true
	}
	s, ok := String(v)
	*dst = s
	return ok
}

// ArrayOrNull calls each for every element of the array v until each returns false; null
// is an array without elements. It reports false when v is neither or each said false.
func (x *Index) ArrayOrNull(v []byte, each func(elem []byte) bool) bool {
	switch Kind(v) {
	case 'n':
		return true
	case '[':
	default:
		return false
	}
	ok := true
	x.Elements(v, func(e []byte) bool {
		ok = each(e)
		return ok
	})
	return ok
}

// IsNull reports whether the raw JSON value v is null.
func IsNull(v []byte) bool { return string(v) == "null" }

// Kind is the first byte of the raw JSON value v ('{', '[', '"', 't', 'f', 'n', or the
// first byte of a number), or 0 when v is empty.
func Kind(v []byte) byte {
	i := skipWS(v, 0)
	if i >= len(v) {
		return 0
	}
	return v[i]
}
