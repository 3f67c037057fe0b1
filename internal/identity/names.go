package identity

import (
	"crypto/sha256"
	_ "embed" // word lists
	"encoding/binary"
	"strings"
	"sync"
)

// Word lists of the naming rule, one word per line, '#' comments. They are
// part of the rule: changing a list renames every hotspot.
var (
	//go:embed words/adjectives.txt
	adjectivesText string
	//go:embed words/colours.txt
	coloursText string
	//go:embed words/animals.txt
	animalsText string
)

// nameWords are the parsed word lists; immutable once built.
type nameWords struct {
	adjectives, colours, animals []string
}

// words parses the embedded lists once, at first use, and caches the result.
var words = sync.OnceValue(func() nameWords {
	return nameWords{
		adjectives: parseWords(adjectivesText),
		colours:    parseWords(coloursText),
		animals:    parseWords(animalsText),
	}
})

// parseWords returns the words of a list in file order, skipping blank lines
// and '#' comments.
func parseWords(text string) []string {
	var out []string
	for line := range strings.Lines(text) {
		w := strings.TrimSpace(line)
		if w == "" || strings.HasPrefix(w, "#") {
			continue
		}
		out = append(out, w)
	}
	return out
}

// Name returns the deterministic three-word name of a public key
// ("adjective-colour-animal", like "angry-purple-tiger"). The words are chosen
// by three consecutive 64-bit big-endian slices of SHA-256(public key), each
// taken modulo the length of its list.
func Name(pk PublicKey) string {
	w := words()
	h := sha256.Sum256(pk[:])
	pick := func(list []string, i int) string {
		return list[binary.BigEndian.Uint64(h[8*i:])%uint64(len(list))]
	}
	return pick(w.adjectives, 0) + "-" + pick(w.colours, 1) + "-" + pick(w.animals, 2)
}
