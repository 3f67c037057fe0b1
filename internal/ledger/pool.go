package ledger

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/brocaar/lorawan"

	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
)

// devAddrPool is the DevAddr space of the network's NetID: every DevAddr
// whose AddrPrefix (type prefix and NwkID, LoRaWAN Backend Interfaces §13)
// is the NetID's; new OUIs get aligned blocks of blockSize from it.
type devAddrPool struct {
	min, max  uint32
	blockSize uint32
}

func parsePool(netID string, blockSize uint32) (devAddrPool, error) {
	n, err := parseNetID(netID)
	if err != nil {
		return devAddrPool{}, err
	}
	lo, hi := lorawan.DevAddr{}, lorawan.DevAddr{0xff, 0xff, 0xff, 0xff}
	lo.SetAddrPrefix(lorawan.NetID(n))
	hi.SetAddrPrefix(lorawan.NetID(n))
	p := devAddrPool{min: binary.BigEndian.Uint32(lo[:]), max: binary.BigEndian.Uint32(hi[:]), blockSize: blockSize}
	if blockSize == 0 || uint64(blockSize) > uint64(p.max-p.min)+1 {
		return p, fmt.Errorf("ledger: config block_size %d does not fit the NetID pool of %d addresses", blockSize, uint64(p.max-p.min)+1)
	}
	return p, nil
}

func (p devAddrPool) contains(r *ledgerpb.DevAddrRange) bool {
	return r.GetStart() <= r.GetEnd() && r.GetStart() >= p.min && r.GetEnd() <= p.max
}

func overlaps(a, b *ledgerpb.DevAddrRange) bool {
	return a.GetStart() <= b.GetEnd() && b.GetStart() <= a.GetEnd()
}

// allocate returns the first aligned free block given the ranges in use.
func (p devAddrPool) allocate(used []*ledgerpb.DevAddrRange) (*ledgerpb.DevAddrRange, error) {
	sorted := append([]*ledgerpb.DevAddrRange(nil), used...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].GetStart() < sorted[j].GetStart() })
	for start := uint64(p.min); start+uint64(p.blockSize)-1 <= uint64(p.max); {
		cand := &ledgerpb.DevAddrRange{Start: uint32(start), End: uint32(start + uint64(p.blockSize) - 1)}
		clash := false
		for _, u := range sorted {
			if overlaps(cand, u) {
				// jump past the clash to the next aligned block
				next := (uint64(u.GetEnd()) + 1 - uint64(p.min) + uint64(p.blockSize) - 1) / uint64(p.blockSize) * uint64(p.blockSize)
				start = uint64(p.min) + next
				clash = true
				break
			}
		}
		if !clash {
			return cand, nil
		}
	}
	return nil, ErrPoolExhausted
}
