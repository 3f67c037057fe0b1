package ledger

import (
	"testing"

	"github.com/uber/h3-go/v4"

	"github.com/hexnet/hexnet/internal/wire"
)

func TestRegionOf(t *testing.T) {
	cases := []struct {
		name string
		cell uint64
		want wire.Region
	}{
		{"paris", 0x8c1fb46741a13ff, wire.Region_EU868},
		{"sydney", 0x8cbe0e35c0943ff, wire.Region_AU915},
		{"new york", 0x8c2a107289061ff, wire.Region_US915},
		{"seoul", 0x8c30e1d8c0b1dff, wire.Region_KR920},
		{"delhi", 0x8c3da11462f6bff, wire.Region_IN865},
		{"tokyo", 0x8c2f5a363ba01ff, wire.Region_AS923_1},
		{"tel aviv", 0x8c2db0cc17107ff, wire.Region_AS923_4},
		{"manila", 0x8c694ec04c1abff, wire.Region_AS923_3},
		{"jakarta", 0x8c8c107836ea7ff, wire.Region_AS923_2},
		{"sao paulo", 0x8ca8100c066bdff, wire.Region_AU915},
	}
	for _, c := range cases {
		ll := h3.Cell(c.cell).LatLng()
		if got := RegionOf(ll.Lat, ll.Lng); got != c.want {
			t.Errorf("%s (%v): %v, want %v", c.name, ll, got, c.want)
		}
	}
	if got := RegionOf(-80, 0); got != wire.Region_REGION_UNKNOWN {
		t.Errorf("antarctica: %v", got)
	}
}

func TestPool(t *testing.T) {
	p, err := parsePool("000000", 64)
	if err != nil {
		t.Fatal(err)
	}
	if p.min != 0 || p.max != 0x01ffffff {
		t.Fatalf("type 0 NetID 000000 pool %08x-%08x", p.min, p.max)
	}
	p3, err := parsePool("60002D", 8) // Helium's type 3 NetID
	if err != nil {
		t.Fatal(err)
	}
	// type 3: prefix 1110, 11-bit NwkID 0x2d, 17-bit NwkAddr
	if p3.min != 0xe05a0000 || p3.max != 0xe05bffff {
		t.Fatalf("type 3 pool %08x-%08x", p3.min, p3.max)
	}
	p24, _ := parsePool("000024", 8) // Helium's type 0 NetID: DevAddrs 48000000-49ffffff
	if p24.min != 0x48000000 || p24.max != 0x49ffffff {
		t.Fatalf("type 0 pool %08x-%08x", p24.min, p24.max)
	}
	if _, err := parsePool("zz", 8); err == nil {
		t.Fatal("bad NetID accepted")
	}
	if _, err := parsePool("60002D", 1<<18); err == nil {
		t.Fatal("block larger than the pool accepted")
	}
}
