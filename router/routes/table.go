package routes

import "sort"

// Table is an immutable lookup index over a set of routes: DevAddr → routes
// through sorted, non-overlapping segments and binary search, and
// (JoinEUI, DevEUI) → routes through maps (exact pairs and DevEUI wildcards).
// Routes are returned as shared pointers that must not be modified.
type Table struct {
	starts []uint32   // segment starts, ascending
	ends   []uint32   // segment ends (inclusive)
	segs   [][]*Route // routes of each segment
	exact  map[[2]uint64][]*Route
	wild   map[uint64][]*Route
	anyJ   map[uint64][]*Route // JoinEUI wildcard (DevEUI set)
	n      int
}

// NewTable indexes routes (all of them, whatever Active/Locked say; callers
// check those per route).
func NewTable(rs []*Route) *Table {
	t := &Table{exact: map[[2]uint64][]*Route{}, wild: map[uint64][]*Route{}, anyJ: map[uint64][]*Route{}, n: len(rs)}
	// Elementary segments: every boundary (start, end+1) splits the address space.
	var bounds []uint64
	for _, r := range rs {
		for _, rg := range r.DevAddrRanges {
			bounds = append(bounds, uint64(rg.Start), uint64(rg.End)+1)
		}
		for _, p := range r.EUIs {
			switch {
			case p.DevEUI == 0:
				t.wild[uint64(p.JoinEUI)] = appendOnce(t.wild[uint64(p.JoinEUI)], r)
			case p.JoinEUI == 0:
				t.anyJ[uint64(p.DevEUI)] = appendOnce(t.anyJ[uint64(p.DevEUI)], r)
			default:
				k := [2]uint64{uint64(p.JoinEUI), uint64(p.DevEUI)}
				t.exact[k] = appendOnce(t.exact[k], r)
			}
		}
	}
	sort.Slice(bounds, func(i, j int) bool { return bounds[i] < bounds[j] })
	bounds = uniq(bounds)
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := bounds[i], bounds[i+1]-1
		var in []*Route
		for _, r := range rs {
			for _, rg := range r.DevAddrRanges {
				if uint64(rg.Start) <= lo && hi <= uint64(rg.End) {
					in = append(in, r)
					break
				}
			}
		}
		if len(in) == 0 {
			continue
		}
		t.starts = append(t.starts, uint32(lo))
		t.ends = append(t.ends, uint32(hi))
		t.segs = append(t.segs, in)
	}
	return t
}

func appendOnce(s []*Route, r *Route) []*Route {
	for _, x := range s {
		if x == r {
			return s
		}
	}
	return append(s, r)
}

func uniq(s []uint64) []uint64 {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Len returns the number of routes indexed.
func (t *Table) Len() int { return t.n }

// ByDevAddr returns the routes whose ranges contain a.
func (t *Table) ByDevAddr(a uint32) []*Route {
	i := sort.Search(len(t.starts), func(i int) bool { return t.starts[i] > a }) - 1
	if i < 0 || a > t.ends[i] {
		return nil
	}
	return t.segs[i]
}

// ByEUI returns the routes that match a join-request's JoinEUI and DevEUI.
func (t *Table) ByEUI(joinEUI, devEUI uint64) []*Route {
	var out []*Route
	out = append(out, t.exact[[2]uint64{joinEUI, devEUI}]...)
	for _, r := range t.wild[joinEUI] {
		out = appendOnce(out, r)
	}
	for _, r := range t.anyJ[devEUI] {
		out = appendOnce(out, r)
	}
	return out
}
