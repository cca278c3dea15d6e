// Package pattern is the Lua 5.1 pattern matcher behind the sandbox's
// string.find, string.match, string.gmatch and string.gsub, written so that a
// match stops at the event's deadline.
//
// gopher-lua's own matcher runs in Go code the VM's context cannot interrupt:
// string.find(string.rep("a", 1e5), ".-.-.-.-x") backtracks for minutes, and the
// script's goroutine outlives its event holding a concurrency slot. This
// matcher counts its steps and, every checkEvery of them, asks the caller
// whether to go on (in the sandbox: the Lua state's context error, raised in
// Lua when there is one), so the worst pattern on the longest subject stops
// within microseconds of the deadline.
//
// The mechanism, in order:
//
//  1. compile reads the pattern once (Lua 5.1 reference manual §5.4.1) into a
//     list of items and reports every malformed pattern there, whatever the
//     subject: a pattern is refused before anything is matched.
//  2. The items are matched by backtracking, as Lua does. Only the four
//     repetitions (* + - ?) recurse, one level each, so the depth of the Go
//     stack is bounded by the pattern: compile refuses patterns with more than
//     maxRepeats of them ("pattern too complex", as Lua 5.2 says at its
//     MAXCCALLS of 200; Lua 5.1 has no bound).
//  3. Work costs steps: each element compile reads, each start position and
//     item tried, each character a repetition, %b or the search for a start
//     scans, each byte a literal or back-reference compares. The check runs
//     every checkEvery steps.
//
// Captures need no undo when the matcher backtracks: Lua patterns have no
// alternation, so each capture is written by one item at a fixed place in the
// list, and any path that reads a capture (a back-reference, the result) has
// passed that item again since.
package pattern

import (
	"errors"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

const (
	// MaxCaptures is Lua's LUA_MAXCAPTURES: a pattern with more is refused.
	MaxCaptures = 32
	// maxRepeats bounds the recursion: two Go frames per repeated item.
	maxRepeats = 200
	// checkEvery is how many steps the matcher takes between two checks of
	// the caller's deadline.
	checkEvery = 1024
)

// specials are the characters that make a string.find pattern more than a
// plain substring (Lua 5.1's SPECIALS).
const specials = "^$*+?.([%-"

// charSet is a set of bytes, one bit each.
type charSet [4]uint64

func (cs *charSet) has(c byte) bool { return cs[c>>6]&(1<<(c&63)) != 0 }
func (cs *charSet) add(c byte)      { cs[c>>6] |= 1 << (c & 63) }
func (cs *charSet) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		cs.add(byte(c))
	}
}
func (cs *charSet) union(o *charSet) {
	for i := range cs {
		cs[i] |= o[i]
	}
}
func (cs *charSet) invert() {
	for i := range cs {
		cs[i] = ^cs[i]
	}
}

// singles holds the set of each single byte, and anyByte all of them: items
// point at these rather than carry sets of their own, so that a compiled
// pattern is not much bigger than the pattern.
var singles = func() (sets [256]charSet) {
	for c := range sets {
		sets[c].add(byte(c))
	}
	return sets
}()

var anyByte = charSet{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}

// classes holds the set of each %-class letter, lower case and upper case
// (the complement), in the C locale, as Lua 5.1 defines them; %z is the zero
// byte.
var classes, isClass = func() (sets [256]charSet, known [256]bool) {
	in := map[byte]func(c byte) bool{
		'a': func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' },
		'c': func(c byte) bool { return c < 0x20 || c == 0x7f },
		'd': func(c byte) bool { return '0' <= c && c <= '9' },
		'l': func(c byte) bool { return 'a' <= c && c <= 'z' },
		'p': func(c byte) bool {
			return 0x21 <= c && c <= 0x2f || 0x3a <= c && c <= 0x40 || 0x5b <= c && c <= 0x60 || 0x7b <= c && c <= 0x7e
		},
		's': func(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' },
		'u': func(c byte) bool { return 'A' <= c && c <= 'Z' },
		'w': func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' },
		'x': func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' },
		'z': func(c byte) bool { return c == 0 },
	}
	for letter, pred := range in {
		upper := letter - 'a' + 'A'
		for c := 0; c < 256; c++ {
			if pred(byte(c)) {
				sets[letter].add(byte(c))
			}
		}
		sets[upper] = sets[letter]
		sets[upper].invert()
		known[letter], known[upper] = true, true
	}
	return sets, known
}()

// op is what an item of a compiled pattern does.
type op uint8

const (
	opSet      op = iota // one character of a set, maybe repeated (rep)
	opLiteral            // these exact bytes (a run of plain characters)
	opOpen               // ( starts capture n
	opClose              // ) ends capture n
	opPosition           // () captures the position
	opBalance            // %bxy
	opFrontier           // %f[set]
	opBackref            // %1-%9: the text of capture n again
	opEnd                // $ at the end of the pattern
)

// item is one element of a compiled pattern.
type item struct {
	op   op
	rep  byte     // opSet: 0, or the repetition '*', '+', '-', '?'
	a, b byte     // opBalance: the opening and closing characters
	n    int32    // capture index (opOpen, opClose, opPosition, opBackref)
	set  *charSet // opSet, opFrontier
	lit  string   // opLiteral
}

// program is a compiled pattern.
type program struct {
	items    []item
	anchored bool // the pattern began with ^
	captures int  // how many captures it has
	// inline holds the items of most patterns, so that compiling one in a
	// pooled matcher allocates nothing.
	inline [8]item
}

// compile reads pat into m.prog. It counts a step for each element, so that
// even a pattern of megabytes stops at the deadline.
func (m *matcher) compile(pat string) error {
	prog := &m.prog
	prog.items, prog.anchored, prog.captures = prog.inline[:0], false, 0
	p := 0
	if strings.HasPrefix(pat, "^") {
		prog.anchored = true
		p = 1
	}
	var (
		closed  [MaxCaptures]bool // by capture index: its ) has been read
		open    [MaxCaptures]int  // captures not closed yet, innermost last
		nopen   int
		repeats int
		runEnd  = -1 // where in pat the last literal run ends, to extend it
	)
	for p < len(pat) {
		m.step(1)
		switch c := pat[p]; {
		case c == '(':
			n := prog.captures
			if n == MaxCaptures {
				return errors.New("too many captures")
			}
			prog.captures++
			if p+1 < len(pat) && pat[p+1] == ')' {
				prog.items = append(prog.items, item{op: opPosition, n: int32(n)})
				closed[n] = true
				p += 2
				continue
			}
			prog.items = append(prog.items, item{op: opOpen, n: int32(n)})
			open[nopen] = n
			nopen++
			p++
			continue
		case c == ')':
			if nopen == 0 {
				return errors.New("invalid pattern capture")
			}
			nopen--
			closed[open[nopen]] = true
			prog.items = append(prog.items, item{op: opClose, n: int32(open[nopen])})
			p++
			continue
		case c == '$' && p == len(pat)-1:
			prog.items = append(prog.items, item{op: opEnd})
			p++
			continue
		case c == '%' && p+1 < len(pat):
			switch e := pat[p+1]; {
			case e == 'b':
				if p+3 >= len(pat) {
					return errors.New("unbalanced pattern")
				}
				prog.items = append(prog.items, item{op: opBalance, a: pat[p+2], b: pat[p+3]})
				p += 4
				continue
			case e == 'f':
				if p+2 >= len(pat) || pat[p+2] != '[' {
					return errors.New("missing '[' after '%f' in pattern")
				}
				set := new(charSet)
				end, err := readSet(pat, p+2, set)
				if err != nil {
					return err
				}
				prog.items = append(prog.items, item{op: opFrontier, set: set})
				p = end
				continue
			case '0' <= e && e <= '9':
				n := int(e) - '1'
				if n < 0 || n >= prog.captures || !closed[n] {
					return errors.New("invalid capture index")
				}
				prog.items = append(prog.items, item{op: opBackref, n: int32(n)})
				p += 2
				continue
			}
		}
		// A single character class, maybe repeated.
		set, end, err := readSingle(pat, p)
		if err != nil {
			return err
		}
		it := item{op: opSet, set: set}
		if end < len(pat) && strings.IndexByte("*+-?", pat[end]) >= 0 {
			if repeats++; repeats > maxRepeats {
				return fmt.Errorf("pattern too complex (more than %d repetitions with * + - ?)", maxRepeats)
			}
			it.rep = pat[end]
			prog.items = append(prog.items, it)
			p = end + 1
			continue
		}
		// A run of literal characters is one item, a slice of the pattern.
		plain := end-p == 1 && pat[p] != '.' && pat[p] != '['
		switch last := len(prog.items) - 1; {
		case plain && runEnd == p:
			prog.items[last].lit = pat[p-len(prog.items[last].lit) : end]
			runEnd = end
		case plain:
			prog.items = append(prog.items, item{op: opLiteral, lit: pat[p:end]})
			runEnd = end
		case end-p == 2 && pat[p] == '%' && !isClass[pat[p+1]]: // an escaped character: %.
			prog.items = append(prog.items, item{op: opLiteral, lit: pat[p+1 : end]})
			runEnd = end
		default:
			prog.items = append(prog.items, it)
		}
		p = end
	}
	if nopen > 0 {
		return errors.New("unfinished capture")
	}
	return nil
}

// readSingle reads the single character class at pat[p] and returns its set
// and where it ends.
func readSingle(pat string, p int) (*charSet, int, error) {
	switch c := pat[p]; c {
	case '.':
		return &anyByte, p + 1, nil
	case '[':
		set := new(charSet)
		end, err := readSet(pat, p, set)
		return set, end, err
	case '%':
		if p+1 == len(pat) {
			return nil, 0, errors.New("malformed pattern (ends with '%')")
		}
		if e := pat[p+1]; isClass[e] {
			return &classes[e], p + 2, nil
		}
		return &singles[pat[p+1]], p + 2, nil
	default:
		return &singles[c], p + 1, nil
	}
}

// escape adds %c to set: a class, or the character itself.
func escape(c byte, set *charSet) {
	if isClass[c] {
		set.union(&classes[c])
	} else {
		set.add(c)
	}
}

// readSet reads the set pat[p:] (p at its '[') and returns where it ends.
//
// As in Lua 5.1, the first character after [ or [^ belongs to the set even
// when it is ']'; %x is a class or an escaped character; x-y is a range
// when x is not escaped and y is not the closing ']'.
func readSet(pat string, p int, set *charSet) (int, error) {
	p++ // past '['
	negate := p < len(pat) && pat[p] == '^'
	if negate {
		p++
	}
	missing := errors.New("malformed pattern (missing ']')")
	// Find the closing ']' first: a range may end at any character but it.
	end := p
	for {
		if end >= len(pat) {
			return 0, missing
		}
		if pat[end] == '%' {
			end++
		}
		end++
		if end >= len(pat) {
			return 0, missing
		}
		if pat[end] == ']' {
			break
		}
	}
	for q := p; q < end; q++ {
		switch {
		case pat[q] == '%':
			q++
			escape(pat[q], set)
		case q+2 < end && pat[q+1] == '-':
			set.addRange(pat[q], pat[q+2])
			q += 2
		default:
			set.add(pat[q])
		}
	}
	if negate {
		set.invert()
	}
	return end + 1, nil
}

// capture is one capture of a match: a substring, or a position when
// position is set.
type capture struct {
	start, end int
	position   bool
}

// matcher matches one program against one subject.
type matcher struct {
	prog    program
	subject string
	caps    [MaxCaptures]capture
	steps   int // left before the next check
	// check is the caller's deadline, asked about L; the match stops when
	// it returns an error.
	check func(*lua.LState) error
	L     *lua.LState
}

// step counts n steps of work and checks the caller's deadline when due.
func (m *matcher) step(n int) {
	if m.steps -= n; m.steps <= 0 {
		m.checkDeadline()
	}
}

// checkDeadline asks the caller whether to go on, and raises its error in
// Lua when not: the panic unwinds the match to the script's pcall, or to
// the engine.
func (m *matcher) checkDeadline() {
	m.steps = checkEvery
	if err := m.check(m.L); err != nil {
		m.L.RaiseError("%s", err.Error())
	}
}

// find looks for the first match at or after init and returns its bounds,
// or start -1. Its captures are in m.caps.
func (m *matcher) find(init int) (start, end int) {
	items := m.prog.items
	// lead is the first item that consumes input, for skipping ahead to
	// where a match can start.
	lead := 0
	for lead < len(items) && (items[lead].op == opOpen || items[lead].op == opPosition) {
		lead++
	}
	for s := init; s <= len(m.subject); s++ {
		m.step(1)
		if !m.prog.anchored && lead < len(items) {
			if s = m.skip(&items[lead], s); s < 0 {
				return -1, -1
			}
		}
		if e := m.match(s, 0); e >= 0 {
			return s, e
		}
		if m.prog.anchored {
			break
		}
	}
	return -1, -1
}

// skip returns the first position from s where the item it (the first that
// consumes input) can begin a match, or -1 when there is none.
func (m *matcher) skip(it *item, s int) int {
	switch {
	case it.op == opLiteral:
		i := strings.Index(m.subject[s:], it.lit)
		if i < 0 {
			m.step(len(m.subject) - s)
			return -1
		}
		m.step(i + len(it.lit))
		return s + i
	case it.op == opSet && (it.rep == 0 || it.rep == '+'):
		for s < len(m.subject) && !it.set.has(m.subject[s]) {
			m.step(1)
			s++
		}
		if s == len(m.subject) {
			return -1
		}
	}
	return s
}

// match matches the items from i on at subject position s and returns where
// the match ends, or -1.
func (m *matcher) match(s, i int) int {
	subject, items := m.subject, m.prog.items
	for ; i < len(items); i++ {
		m.step(1)
		it := &items[i]
		switch it.op {
		case opSet:
			switch it.rep {
			case 0:
				if s < len(subject) && it.set.has(subject[s]) {
					s++
					continue
				}
				return -1
			case '?':
				if s < len(subject) && it.set.has(subject[s]) {
					if e := m.match(s+1, i+1); e >= 0 {
						return e
					}
				}
			case '*':
				return m.longest(s, i)
			case '+':
				if s < len(subject) && it.set.has(subject[s]) {
					return m.longest(s+1, i)
				}
				return -1
			case '-':
				return m.shortest(s, i)
			}
		case opLiteral:
			m.step(len(it.lit))
			if !strings.HasPrefix(subject[s:], it.lit) {
				return -1
			}
			s += len(it.lit)
		case opOpen:
			m.caps[it.n] = capture{start: s}
		case opClose:
			m.caps[it.n].end = s
		case opPosition:
			m.caps[it.n] = capture{start: s, end: s, position: true}
		case opBalance:
			if s = m.balance(s, it.a, it.b); s < 0 {
				return -1
			}
		case opFrontier:
			var prev, next byte
			if s > 0 {
				prev = subject[s-1]
			}
			if s < len(subject) {
				next = subject[s]
			}
			if it.set.has(prev) || !it.set.has(next) {
				return -1
			}
		case opBackref:
			c := m.caps[it.n]
			if c.position { // as in Lua 5.1, a position is no text to repeat
				return -1
			}
			text := subject[c.start:c.end]
			m.step(len(text))
			if !strings.HasPrefix(subject[s:], text) {
				return -1
			}
			s += len(text)
		case opEnd:
			if s != len(subject) {
				return -1
			}
		}
	}
	return s
}

// longest matches items[i] (repeated with * or +) as often as it can from s,
// then gives back one character at a time until the rest matches.
func (m *matcher) longest(s, i int) int {
	set := m.prog.items[i].set
	n := s
	for n < len(m.subject) && set.has(m.subject[n]) {
		m.step(1)
		n++
	}
	for ; n >= s; n-- {
		if e := m.match(n, i+1); e >= 0 {
			return e
		}
	}
	return -1
}

// shortest matches items[i] (repeated with -) as rarely as it can from s:
// it tries the rest first, then one more character, and so on.
func (m *matcher) shortest(s, i int) int {
	set := m.prog.items[i].set
	for {
		if e := m.match(s, i+1); e >= 0 {
			return e
		}
		if s == len(m.subject) || !set.has(m.subject[s]) {
			return -1
		}
		s++
	}
}

// balance matches %bab at s: a, then up to the b that balances it.
func (m *matcher) balance(s int, a, b byte) int {
	if s >= len(m.subject) || m.subject[s] != a {
		return -1
	}
	depth := 1
	for i := s + 1; i < len(m.subject); i++ {
		m.step(1)
		switch m.subject[i] {
		case b:
			if depth--; depth == 0 {
				return i + 1
			}
		case a:
			depth++
		}
	}
	return -1
}
