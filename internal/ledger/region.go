package ledger

import "github.com/hexnet/hexnet/internal/wire"

// regionBox maps a latitude/longitude box to a LoRaWAN region plan.
type regionBox struct {
	region                         wire.Region
	minLat, maxLat, minLng, maxLng float64
}

// regionTable is the documented, deliberately coarse location → region rule:
// the first box containing the point wins, so the smaller boxes come first.
// A point in no box has REGION_UNKNOWN (the assertion is still accepted; the
// hotspot is told to pick its plan by other means).
//
//	KR920    Korea                      lat  33..39   lng 124..132
//	AS923-4  Israel                     lat  29..34   lng  34..36
//	AS923-3  Philippines                lat   4..21   lng 116..127
//	AS923-2  Indonesia, Vietnam         lat -11..8    lng  95..141, lat 8..24 lng 102..110
//	AS923-1  Japan, Taiwan, Thailand, Malaysia, Singapore
//	                                    lat  24..46   lng 122..154, lat 0..24 lng 95..125
//	IN865    India                      lat   6..36   lng  68..98
//	AU915    Australia, New Zealand     lat -48..-10  lng 112..180
//	AU915    South America              lat -56..13   lng -82..-34
//	US915    North America              lat  15..72   lng -170..-50
//	EU868    Europe                     lat  34..72   lng -25..45
var regionTable = []regionBox{
	{wire.Region_KR920, 33, 39, 124, 132},
	{wire.Region_AS923_4, 29, 34, 34, 36},
	{wire.Region_AS923_3, 4, 21, 116, 127},
	{wire.Region_AS923_2, -11, 8, 95, 141},
	{wire.Region_AS923_2, 8, 24, 102, 110},
	{wire.Region_AS923_1, 24, 46, 122, 154},
	{wire.Region_AS923_1, 0, 24, 95, 125},
	{wire.Region_IN865, 6, 36, 68, 98},
	{wire.Region_AU915, -48, -10, 112, 180},
	{wire.Region_AU915, -56, 13, -82, -34},
	{wire.Region_US915, 15, 72, -170, -50},
	{wire.Region_EU868, 34, 72, -25, 45},
}

// RegionOf returns the region plan of a location (see regionTable).
func RegionOf(lat, lng float64) wire.Region {
	for _, b := range regionTable {
		if lat >= b.minLat && lat <= b.maxLat && lng >= b.minLng && lng <= b.maxLng {
			return b.region
		}
	}
	return wire.Region_REGION_UNKNOWN
}
