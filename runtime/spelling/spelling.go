// Package spelling finds the name a misspelt one was meant to be, for the
// "did you mean digitTimeout?" of an error: 8x8's parameter names for a
// parameter, luaivr's globals and handlers for a Lua name.
package spelling

import "strings"

// Closest is the name among names that name is most likely a misspelling of: the
// fewest edits (a letter added, dropped, changed, or two swapped; case does not
// count), at most a third of the name's letters and never more than 3, or the
// name it begins (voice for voiceProfile); "" when none is that close. noOfTry
// is 3 edits from noOfTries, sped 1 from speed.
func Closest(name string, names []string) string {
	best, bestDist := "", 0
	if len(name) > maxLen {
		return ""
	}
	lower := strings.ToLower(name)
	for _, n := range names {
		limit := min(3, max(1, len(n)/3))
		if len(n) > maxLen || (len(n)-len(name) > limit && !strings.HasPrefix(strings.ToLower(n), lower)) || len(name)-len(n) > limit {
			continue // too far apart for limit edits
		}
		d := editDistance(lower, strings.ToLower(n))
		if len(name) >= 4 && strings.HasPrefix(strings.ToLower(n), lower) {
			d = min(d, limit)
		}
		if d <= limit && (best == "" || d < bestDist) {
			best, bestDist = n, d
		}
	}
	return best
}

// maxLen bounds the names compared, so that the time a suggestion takes is
// bounded whatever names a script makes up.
const maxLen = 64

// editDistance is the optimal string alignment distance between a and b, in
// bytes: insertions, deletions, substitutions and swaps of neighbours. Names
// are short; this runs only on a name that is wrong.
func editDistance(a, b string) int {
	rows := make([]int, 3*(len(b)+1))
	prev2, prev, cur := rows[:len(b)+1], rows[len(b)+1:2*(len(b)+1)], rows[2*(len(b)+1):]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
