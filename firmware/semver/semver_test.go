package semver

import (
	"errors"
	"testing"
)

func TestOrder(t *testing.T) {
	// semver.org §11 example chain, plus numeric (not lexical) comparison.
	chain := []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.2.0", "1.9.0", "1.10.0", "1.10.2", "2.0.0",
	}
	for i := range chain {
		for j := range chain {
			c, err := CompareStrings(chain[i], chain[j])
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if c != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", chain[i], chain[j], c, want)
			}
		}
	}
}

func TestBuildIgnoredAndRoundTrip(t *testing.T) {
	for _, s := range []string{"1.2.3", "v1.2.3", "1.2.3-rc.1+sha.abc", "0.0.0+x"} {
		v, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		w, err := Parse(v.String())
		if err != nil || Compare(v, w) != 0 || w.String() != v.String() {
			t.Errorf("%q does not round-trip: %v %v", s, w, err)
		}
	}
	if c, _ := CompareStrings("1.2.3+a", "1.2.3+b"); c != 0 {
		t.Errorf("build metadata changed precedence: %d", c)
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "1", "1.2", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.3-01", "1.2.3+", "1..3", "1.2.x", "1.2.3-a..b", "1.2.3-é", "-1.2.3", "99999999999999999999.0.0"} {
		if _, err := Parse(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("1.2.3-rc.1+build.5")
	f.Add("v0.0.1")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		w, err := Parse(v.String())
		if err != nil {
			t.Fatalf("String() of a parsed version does not parse: %q: %v", v.String(), err)
		}
		if Compare(v, w) != 0 || Compare(w, v) != 0 {
			t.Fatalf("round trip changed order: %q vs %q", s, v.String())
		}
	})
}
