package identity

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestWordLists(t *testing.T) {
	w := words()
	for _, l := range []struct {
		name string
		list []string
	}{{"adjectives", w.adjectives}, {"colours", w.colours}, {"animals", w.animals}} {
		if len(l.list) < 200 {
			t.Errorf("%s: %d words, want at least 200", l.name, len(l.list))
		}
		seen := map[string]bool{}
		for _, word := range l.list {
			if seen[word] {
				t.Errorf("%s: %q twice", l.name, word)
			}
			seen[word] = true
			if word == "" || strings.Trim(word, "abcdefghijklmnopqrstuvwxyz") != "" {
				t.Errorf("%s: %q is not lowercase ascii letters", l.name, word)
			}
		}
	}
}

func TestParseWords(t *testing.T) {
	got := parseWords("# comment\nfox\n\n  owl \r\n#x\nyak")
	if want := []string{"fox", "owl", "yak"}; !slices.Equal(got, want) {
		t.Fatalf("parseWords = %q, want %q", got, want)
	}
}

func TestNameDeterministicThreeWords(t *testing.T) {
	w := words()
	for i := range 32 {
		pk := testKey(t, byte(i)).Public()
		n := Name(pk)
		if n != Name(pk) || n != pk.Name() {
			t.Fatalf("name of key %d is not deterministic", i)
		}
		parts := strings.Split(n, "-")
		if len(parts) != 3 {
			t.Fatalf("name %q has %d words", n, len(parts))
		}
		if !slices.Contains(w.adjectives, parts[0]) || !slices.Contains(w.colours, parts[1]) || !slices.Contains(w.animals, parts[2]) {
			t.Fatalf("name %q is not adjective-colour-animal", n)
		}
	}
}

// Names are part of the network's public face: pin a few so a change of the
// rule or of a word list shows up here.
func TestNameGolden(t *testing.T) {
	cases := []struct {
		seed byte
		want string
	}{
		{0x00, "windy-rain-starling"},
		{0x01, "solar-burgundy-sloth"},
		{0xff, "grateful-pumpkin-owl"},
	}
	for _, c := range cases {
		if got := Name(testKey(t, c.seed).Public()); got != c.want {
			t.Errorf("Name(seed %#x) = %q, want %q", c.seed, got, c.want)
		}
	}
}

// Names of random keys rarely collide (about n²/2 over the product of the
// list lengths), and every word of every list gets used.
func TestNameCollisionsAndCoverage(t *testing.T) {
	const n = 20000
	w := words()
	space := float64(len(w.adjectives)) * float64(len(w.colours)) * float64(len(w.animals))
	expected := float64(n) * float64(n-1) / 2 / space

	r := rand.New(rand.NewChaCha8([32]byte{'h', 'e', 'x'}))
	seen := make(map[string]int, n)
	used := [3]map[string]bool{{}, {}, {}}
	collisions := 0
	for range n {
		var pk PublicKey
		for i := range pk {
			pk[i] = byte(r.Uint32())
		}
		name := Name(pk)
		if seen[name] > 0 {
			collisions++
		}
		seen[name]++
		for i, p := range strings.Split(name, "-") {
			used[i][p] = true
		}
	}
	t.Logf("%d keys: %d name collisions, %.1f expected in a space of %.0f names", n, collisions, expected, space)
	if float64(collisions) > 3*expected+5 {
		t.Fatalf("%d collisions among %d names, expected about %.1f", collisions, n, expected)
	}
	for i, l := range [][]string{w.adjectives, w.colours, w.animals} {
		if len(used[i]) != len(l) {
			t.Errorf("list %d: %d of %d words used by %d keys", i, len(used[i]), len(l), n)
		}
	}
}
