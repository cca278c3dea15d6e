package engine

import "strings"

// Hidden is how the record hides the keys of one sensitive capture (see
// redaction): replay runs a redacted event on placeholder keys, and hides
// them the same way in what the new handler sends and answers before
// comparing that with the record, which holds "•" where the caller's keys
// were.
type Hidden struct{ r *redaction }

// HideKeys is the hiding of keys, a sensitive capture's digits.
func HideKeys(keys string) Hidden {
	r := &redaction{}
	r.digits, r.secret = keys, strings.TrimRight(keys, "#")
	r.on.Store(true)
	return Hidden{r}
}

// Text is s with the keys hidden, as the record's strings have them.
func (h Hidden) Text(s string) string { return h.r.hide(s) }

// JSON is a document with the keys hidden, as the record's replies have them.
func (h Hidden) JSON(b []byte) []byte { return h.r.json(b, true) }
