package api

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/hexnet/hexnet/maps"
	"github.com/uber/h3-go/v4"
)

// The GeoJSON writers append by hand: a bbox of 10,000 hexes is the hot path
// of the map, and encoding/json through interface maps costs several times
// more than these appends (see BenchmarkHexesGeoJSON).

func appendCoord(b []byte, lng, lat float64) []byte {
	b = append(b, '[')
	b = strconv.AppendFloat(b, round6(lng), 'f', -1, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, round6(lat), 'f', -1, 64)
	return append(b, ']')
}

func round6(v float64) float64 {
	const k = 1e6
	if v < 0 {
		return -float64(int64(-v*k+0.5)) / k
	}
	return float64(int64(v*k+0.5)) / k
}

func appendPolygon(b []byte, c h3.Cell) []byte {
	bd := h3.CellToBoundary(c)
	b = append(b, `{"type":"Polygon","coordinates":[[`...)
	for i, ll := range bd {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCoord(b, ll.Lng, ll.Lat)
	}
	if len(bd) > 0 {
		b = append(b, ',')
		b = appendCoord(b, bd[0].Lng, bd[0].Lat)
	}
	return append(b, "]]}"...)
}

func appendKey(b []byte, first bool, k string) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

func appendOptFloat(b []byte, v *float64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, *v, 'f', -1, 64)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

func openCollection(b []byte) []byte { return append(b, `{"type":"FeatureCollection","features":[`...) }

func closeCollection(b []byte) []byte { return append(b, "]}\n"...) }

// AppendHexes appends a GeoJSON FeatureCollection of hex polygons whose
// properties are the hex statistics (h3, res, hotspots, active,
// reward_scale, valid_witnesses, best_rssi).
func AppendHexes(b []byte, hx []maps.HexView) []byte {
	b = openCollection(b)
	for i, h := range hx {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"Feature","id":"`...)
		b = append(b, h.H3...)
		b = append(b, `","geometry":`...)
		b = appendPolygon(b, h.Cell)
		b = append(b, `,"properties":{`...)
		b = appendKey(b, true, "h3")
		b = appendString(b, h.H3)
		b = appendKey(b, false, "res")
		b = strconv.AppendInt(b, int64(h.Res), 10)
		b = appendKey(b, false, "hotspots")
		b = strconv.AppendInt(b, int64(h.Hotspots), 10)
		b = appendKey(b, false, "active")
		b = strconv.AppendInt(b, int64(h.Active), 10)
		b = appendKey(b, false, "reward_scale")
		b = appendOptFloat(b, h.Scale)
		b = appendKey(b, false, "valid_witnesses")
		b = strconv.AppendUint(b, h.ValidWitnesses, 10)
		b = appendKey(b, false, "best_rssi")
		b = appendOptFloat(b, h.BestRSSI)
		b = append(b, "}}"...)
	}
	return closeCollection(b)
}

// AppendCoverage appends mapper coverage hexes as GeoJSON polygons with
// best_rssi, best_snr, samples, cells, first/last seen and the hearing
// hotspots (address, name, rssi, snr, samples).
func AppendCoverage(b []byte, cv []maps.CoverageView) []byte {
	b = openCollection(b)
	for i, c := range cv {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"Feature","id":"`...)
		b = append(b, c.H3...)
		b = append(b, `","geometry":`...)
		b = appendPolygon(b, c.Cell)
		b = append(b, `,"properties":{`...)
		b = appendKey(b, true, "h3")
		b = appendString(b, c.H3)
		b = appendKey(b, false, "res")
		b = strconv.AppendInt(b, int64(c.Res), 10)
		b = appendKey(b, false, "best_rssi")
		b = strconv.AppendFloat(b, c.BestRSSI, 'f', -1, 64)
		b = appendKey(b, false, "best_snr")
		b = strconv.AppendFloat(b, c.BestSNR, 'f', -1, 64)
		b = appendKey(b, false, "samples")
		b = strconv.AppendUint(b, c.Samples, 10)
		b = appendKey(b, false, "cells")
		b = strconv.AppendInt(b, int64(c.Cells), 10)
		b = appendKey(b, false, "first_seen")
		b = appendTime(b, c.FirstSeen)
		b = appendKey(b, false, "last_seen")
		b = appendTime(b, c.LastSeen)
		b = appendKey(b, false, "hotspots")
		hs, _ := json.Marshal(c.Hotspots)
		b = append(b, hs...)
		b = append(b, "}}"...)
	}
	return closeCollection(b)
}

// AppendHotspots appends hotspots as GeoJSON points.
func AppendHotspots(b []byte, hs []maps.HotspotSummary) []byte {
	b = openCollection(b)
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"Feature","id":`...)
		b = appendString(b, h.Address)
		b = append(b, `,"geometry":{"type":"Point","coordinates":`...)
		b = appendCoord(b, h.Lng, h.Lat)
		b = append(b, `},"properties":`...)
		p, _ := json.Marshal(h)
		b = append(b, p...)
		b = append(b, '}')
	}
	return closeCollection(b)
}

// AppendEdges appends witness edges as GeoJSON LineStrings from beaconer to
// witness, with the edge's RSSI, SNR, distance, last verdict and reason.
func AppendEdges(b []byte, es []maps.EdgeView) []byte {
	b = openCollection(b)
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"Feature","geometry":{"type":"LineString","coordinates":[`...)
		b = appendCoord(b, e.FromLng, e.FromLat)
		b = append(b, ',')
		b = appendCoord(b, e.ToLng, e.ToLat)
		b = append(b, `]},"properties":`...)
		p, _ := json.Marshal(e)
		b = append(b, p...)
		b = append(b, '}')
	}
	return closeCollection(b)
}
