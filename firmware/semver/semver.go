// Package semver parses and orders semantic versions (semver.org 2.0.0), the
// version scheme of hexnet firmware releases.
package semver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid is returned for text that is not a semantic version.
var ErrInvalid = errors.New("semver: invalid version")

// maxLen bounds the text Parse accepts.
const maxLen = 128

// Version is a parsed semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // dot-separated pre-release identifiers
	Build               string   // build metadata, ignored by Compare
}

// Parse parses s, with or without a leading "v".
func Parse(s string) (Version, error) {
	bad := func(why string) (Version, error) {
		return Version{}, fmt.Errorf("%w %q: %s", ErrInvalid, trunc(s), why)
	}
	if len(s) > maxLen {
		return bad("too long")
	}
	t := strings.TrimPrefix(s, "v")
	var v Version
	if i := strings.IndexByte(t, '+'); i >= 0 {
		v.Build = t[i+1:]
		t = t[:i]
		if !idents(v.Build, false) {
			return bad("bad build metadata")
		}
	}
	if i := strings.IndexByte(t, '-'); i >= 0 {
		pre := t[i+1:]
		t = t[:i]
		if !idents(pre, true) {
			return bad("bad pre-release")
		}
		v.Pre = strings.Split(pre, ".")
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return bad("want MAJOR.MINOR.PATCH")
	}
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		n, ok := numeric(p)
		if !ok {
			return bad("bad number " + strconv.Quote(p))
		}
		*nums[i] = n
	}
	return v, nil
}

// MustParse is Parse for constants known to be valid; it panics otherwise.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// numeric parses a numeric identifier: digits, no leading zero.
func numeric(p string) (uint64, bool) {
	if p == "" || (len(p) > 1 && p[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(p, 10, 64)
	return n, err == nil
}

// idents checks dot-separated identifiers of [0-9A-Za-z-]; pre-release
// numeric identifiers may not have leading zeros.
func idents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		digits := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				digits = false
			default:
				return false
			}
		}
		if pre && digits && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

// String formats v without a leading "v".
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// Compare returns -1, 0 or +1 as a is lower than, equal to or higher than b
// in semver precedence (build metadata ignored).
func Compare(a, b Version) int {
	for _, d := range [3][2]uint64{{a.Major, b.Major}, {a.Minor, b.Minor}, {a.Patch, b.Patch}} {
		if d[0] != d[1] {
			return cmpU(d[0], d[1])
		}
	}
	switch {
	case len(a.Pre) == 0 && len(b.Pre) == 0:
		return 0
	case len(a.Pre) == 0:
		return 1 // a release ranks above its pre-releases
	case len(b.Pre) == 0:
		return -1
	}
	for i := 0; i < len(a.Pre) && i < len(b.Pre); i++ {
		x, y := a.Pre[i], b.Pre[i]
		xn, xok := numeric(x)
		yn, yok := numeric(y)
		switch {
		case xok && yok:
			if xn != yn {
				return cmpU(xn, yn)
			}
		case xok:
			return -1 // numeric identifiers rank below alphanumeric ones
		case yok:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return cmpU(uint64(len(a.Pre)), uint64(len(b.Pre)))
}

// CompareStrings parses and compares two version texts.
func CompareStrings(a, b string) (int, error) {
	va, err := Parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := Parse(b)
	if err != nil {
		return 0, err
	}
	return Compare(va, vb), nil
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
