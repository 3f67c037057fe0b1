package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/hexnet/hexnet/maps"
	"github.com/uber/h3-go/v4"
)

// Uplink is one mapper uplink as an LNS integration posts it to
// POST /api/v1/ingest/uplink (the body is one Uplink or a JSON array of them):
//
//	{"dev_eui":"70b3d57ed0000001","lat":52.37,"lng":4.9,"alt":12.5,"accuracy":5,
//	 "time":"2026-01-02T15:04:05Z",
//	 "hotspots":[{"address":"1a2b…","rssi":-97,"snr":6.5}]}
//
// lat/lng are WGS84 degrees from the device's decoded GPS, alt metres above
// sea level, accuracy the horizontal accuracy in metres (absent means
// unknown), time the uplink's time (absent means now), hotspots the hotspots
// that heard the packet with their RSSI (dBm) and SNR (dB). The shape follows
// the ChirpStack / Helium mapper integrations ("rxInfo" flattened to
// hotspots).
type Uplink struct {
	DevEUI   string        `json:"dev_eui"`
	Lat      *float64      `json:"lat"`
	Lng      *float64      `json:"lng"`
	Alt      *float64      `json:"alt"`
	Accuracy *float64      `json:"accuracy"`
	Time     *time.Time    `json:"time"`
	Hotspots []UplinkHeard `json:"hotspots"`
}

// UplinkHeard is one hotspot that heard the uplink.
type UplinkHeard struct {
	Address string   `json:"address"`
	RSSI    *float64 `json:"rssi"`
	SNR     *float64 `json:"snr"`
}

// Rejection reasons of the ingest gates (stable names, counted in
// /api/v1/stats under counters.mapper_rejected).
const (
	RejectMissingPosition = "missing_position"
	RejectCoordinates     = "coordinates_out_of_range"
	RejectNullIsland      = "null_island"
	RejectAccuracy        = "accuracy_too_low"
	RejectAccuracyMissing = "accuracy_missing"
	RejectAltitude        = "altitude_out_of_range"
	RejectTime            = "time_out_of_range"
	RejectNoHotspots      = "no_hotspots"
	RejectNoValidHotspot  = "no_valid_hotspot"
	RejectUnknownHotspot  = "unknown_hotspot"
	RejectHotspotNoLoc    = "hotspot_not_located"
	RejectRSSI            = "rssi_out_of_range"
	RejectSNR             = "snr_out_of_range"
	RejectTooFar          = "hotspot_too_far"
	RejectDuplicate       = "duplicate_hotspot"
	RejectMalformed       = "malformed"
)

// IngestConfig holds the mapper ingest gates. Zero fields take their defaults.
type IngestConfig struct {
	// MaxAccuracyM: a point whose horizontal accuracy is worse is refused. Default 100 m.
	MaxAccuracyM float64 `toml:"max_accuracy_m" help:"a point whose horizontal accuracy (m) is worse is refused"`
	// RequireAccuracy refuses points without an accuracy. Default false.
	RequireAccuracy bool `toml:"require_accuracy" help:"refuse points without an accuracy"`
	// MinAltM, MaxAltM bound the altitude. Defaults −500 m and 10,000 m.
	MinAltM float64 `toml:"min_alt_m" help:"lowest accepted altitude (m)"`
	MaxAltM float64 `toml:"max_alt_m" help:"highest accepted altitude (m)"`
	// NullIslandDeg: |lat| and |lng| both below this is "null island". Default 0.01°.
	NullIslandDeg float64 `toml:"null_island_deg" help:"|lat| and |lng| both below this is null island (a GPS without a fix)"`
	// MaxHotspotKm: a hotspot farther from the point is refused. Default 500 km.
	MaxHotspotKm float64 `toml:"max_hotspot_km" help:"a hearing hotspot farther than this from the point is refused"`
	// MaxAge and MaxFuture bound the uplink time against now. Defaults 7 days and 5 min.
	MaxAge    time.Duration `toml:"max_age" help:"oldest accepted uplink time"`
	MaxFuture time.Duration `toml:"max_future" help:"how far ahead of the clock an uplink time may be"`
	// MaxBody bounds the request body. Default 1 MiB.
	MaxBody int64 `toml:"max_body" help:"largest request body in bytes"`
	// MaxPoints bounds the uplinks per request. Default 1000.
	MaxPoints int `toml:"max_points" help:"most uplinks per request"`
}

// RSSI and SNR ranges accepted from mappers.
const (
	MinRSSI, MaxRSSI = -141.0, 0.0
	MinSNR, MaxSNR   = -40.0, 40.0
)

// Validate reports inconsistent gates.
func (c IngestConfig) Validate() error {
	if c.MaxAccuracyM < 0 || c.MaxHotspotKm < 0 || c.MaxAge < 0 || c.MaxFuture < 0 || c.MaxBody < 0 || c.MaxPoints < 0 || c.NullIslandDeg < 0 {
		return errors.New("api: ingest config value is negative")
	}
	if (c.MinAltM != 0 || c.MaxAltM != 0) && c.MinAltM >= c.MaxAltM {
		return errors.New("api: ingest min_alt_m must be below max_alt_m")
	}
	return nil
}

func (c *IngestConfig) defaults() {
	if c.MaxAccuracyM == 0 {
		c.MaxAccuracyM = 100
	}
	if c.MinAltM == 0 && c.MaxAltM == 0 {
		c.MinAltM, c.MaxAltM = -500, 10000
	}
	if c.NullIslandDeg == 0 {
		c.NullIslandDeg = 0.01
	}
	if c.MaxHotspotKm == 0 {
		c.MaxHotspotKm = 500
	}
	if c.MaxAge == 0 {
		c.MaxAge = 7 * 24 * time.Hour
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = 5 * time.Minute
	}
	if c.MaxBody == 0 {
		c.MaxBody = 1 << 20
	}
	if c.MaxPoints == 0 {
		c.MaxPoints = 1000
	}
}

// HeardResult is the verdict on one hotspot of an uplink.
type HeardResult struct {
	Address string `json:"address"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// PointResult is the verdict on one uplink.
type PointResult struct {
	Index    int           `json:"index"`
	Status   string        `json:"status"` // "accepted" or "rejected"
	Reason   string        `json:"reason,omitempty"`
	Detail   string        `json:"detail,omitempty"`
	H3       string        `json:"h3,omitempty"`
	Hotspots []HeardResult `json:"hotspots,omitempty"`
}

// IngestResponse answers an ingest request: 200 when every point was
// accepted, 422 (with an error envelope) when any was rejected; accepted
// points of a partly rejected batch are stored all the same.
type IngestResponse struct {
	Error    *errorDetail  `json:"error,omitempty"`
	Accepted int           `json:"accepted"`
	Rejected int           `json:"rejected"`
	Results  []PointResult `json:"results"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Locator gives a hotspot's position (ok false when unknown or unlocated),
// and whether it is known at all.
type Locator interface {
	Location(addr string) (lat, lng float64, ok bool)
	Known(addr string) bool
}

// CheckUplink runs the ingest gates on one uplink. It returns the point to
// store (only its accepted hotspots) and the verdict; the point is usable
// only when res.Status is "accepted".
func CheckUplink(cfg IngestConfig, u Uplink, now time.Time, loc Locator) (maps.MapperPoint, PointResult) {
	cfg.defaults()
	res := PointResult{Status: "rejected"}
	reject := func(reason, detail string) (maps.MapperPoint, PointResult) {
		res.Reason, res.Detail = reason, detail
		return maps.MapperPoint{}, res
	}
	if u.Lat == nil || u.Lng == nil {
		return reject(RejectMissingPosition, "lat and lng are required")
	}
	lat, lng := *u.Lat, *u.Lng
	if math.IsNaN(lat) || math.IsNaN(lng) || lat < -90 || lat > 90 || lng < -180 || lng > 180 {
		return reject(RejectCoordinates, fmt.Sprintf("lat %v, lng %v outside [-90,90]×[-180,180]", lat, lng))
	}
	if math.Abs(lat) < cfg.NullIslandDeg && math.Abs(lng) < cfg.NullIslandDeg {
		return reject(RejectNullIsland, "position is 0,0 (a GPS without a fix)")
	}
	acc := 0.0
	if u.Accuracy == nil {
		if cfg.RequireAccuracy {
			return reject(RejectAccuracyMissing, "accuracy is required")
		}
	} else {
		acc = *u.Accuracy
		if math.IsNaN(acc) || acc < 0 || acc > cfg.MaxAccuracyM {
			return reject(RejectAccuracy, fmt.Sprintf("accuracy %v m, limit %v m", acc, cfg.MaxAccuracyM))
		}
	}
	alt := 0.0
	if u.Alt != nil {
		alt = *u.Alt
		if math.IsNaN(alt) || alt < cfg.MinAltM || alt > cfg.MaxAltM {
			return reject(RejectAltitude, fmt.Sprintf("altitude %v m outside [%v, %v]", alt, cfg.MinAltM, cfg.MaxAltM))
		}
	}
	at := now
	if u.Time != nil {
		at = *u.Time
		if at.Before(now.Add(-cfg.MaxAge)) || at.After(now.Add(cfg.MaxFuture)) {
			return reject(RejectTime, fmt.Sprintf("time %s is more than %s old or %s ahead", at.Format(time.RFC3339), cfg.MaxAge, cfg.MaxFuture))
		}
	}
	if len(u.Hotspots) == 0 {
		return reject(RejectNoHotspots, "hotspots is empty")
	}
	pt := h3.NewLatLng(lat, lng)
	p := maps.MapperPoint{DevEUI: u.DevEUI, Lat: lat, Lng: lng, Alt: alt, Accuracy: acc, At: at}
	seen := map[string]bool{}
	for _, h := range u.Hotspots {
		hr := HeardResult{Address: h.Address, Status: "rejected"}
		switch {
		case seen[h.Address]:
			hr.Reason = RejectDuplicate
		case h.RSSI == nil || math.IsNaN(*h.RSSI) || *h.RSSI < MinRSSI || *h.RSSI > MaxRSSI:
			hr.Reason, hr.Detail = RejectRSSI, fmt.Sprintf("rssi must be in [%v, %v] dBm", MinRSSI, MaxRSSI)
		case h.SNR == nil || math.IsNaN(*h.SNR) || *h.SNR < MinSNR || *h.SNR > MaxSNR:
			hr.Reason, hr.Detail = RejectSNR, fmt.Sprintf("snr must be in [%v, %v] dB", MinSNR, MaxSNR)
		case h.Address == "" || !loc.Known(h.Address):
			hr.Reason = RejectUnknownHotspot
		default:
			hlat, hlng, ok := loc.Location(h.Address)
			if !ok {
				hr.Reason = RejectHotspotNoLoc
				break
			}
			if d := h3.GreatCircleDistanceKm(pt, h3.NewLatLng(hlat, hlng)); d > cfg.MaxHotspotKm {
				hr.Reason, hr.Detail = RejectTooFar, fmt.Sprintf("hotspot is %.0f km away, limit %v km", d, cfg.MaxHotspotKm)
				break
			}
			hr.Status = "accepted"
			p.Hotspots = append(p.Hotspots, maps.MapperHeard{Address: h.Address, RSSI: *h.RSSI, SNR: *h.SNR})
		}
		seen[h.Address] = true
		res.Hotspots = append(res.Hotspots, hr)
	}
	if len(p.Hotspots) == 0 {
		res.Reason, res.Detail = RejectNoValidHotspot, "no hotspot passed the gates"
		return maps.MapperPoint{}, res
	}
	res.Status = "accepted"
	res.H3 = h3.IndexToString(uint64(h3.LatLngToCell(pt, maps.CoverageRes)))
	return p, res
}

// ParseUplinks decodes an ingest body: one Uplink object or an array.
func ParseUplinks(body []byte, maxPoints int) ([]Uplink, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("empty body")
	}
	var us []Uplink
	if body[0] == '[' {
		if err := json.Unmarshal(body, &us); err != nil {
			return nil, fmt.Errorf("body is not a JSON array of uplinks: %w", err)
		}
	} else {
		var u Uplink
		if err := json.Unmarshal(body, &u); err != nil {
			return nil, fmt.Errorf("body is not a JSON uplink: %w", err)
		}
		us = []Uplink{u}
	}
	if len(us) == 0 {
		return nil, errors.New("no uplinks in body")
	}
	if maxPoints > 0 && len(us) > maxPoints {
		return nil, fmt.Errorf("%d uplinks, limit %d per request", len(us), maxPoints)
	}
	return us, nil
}

func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.Ingest.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("body larger than %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, CodeBadRequest, "reading body: "+err.Error())
		return
	}
	us, err := ParseUplinks(body, s.cfg.Ingest.MaxPoints)
	if err != nil {
		s.agg.MapperRejected(RejectMalformed)
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	now := s.now()
	resp := IngestResponse{Results: make([]PointResult, 0, len(us))}
	for i, u := range us {
		p, res := CheckUplink(s.cfg.Ingest, u, now, s.agg)
		res.Index = i
		for _, h := range res.Hotspots {
			if h.Status == "rejected" {
				s.agg.MapperRejected(h.Reason)
			}
		}
		if res.Status == "accepted" {
			if err := s.agg.Mapper(p); err != nil {
				s.log.Error("maps ingest: storing point", "err", err)
				res.Status, res.Reason, res.Detail = "rejected", "internal", "point not stored"
			}
		}
		if res.Status == "accepted" {
			resp.Accepted++
		} else {
			resp.Rejected++
			s.agg.MapperRejected(res.Reason)
		}
		resp.Results = append(resp.Results, res)
	}
	status := http.StatusOK
	if resp.Rejected > 0 {
		status = http.StatusUnprocessableEntity
		resp.Error = &errorDetail{Code: CodeRejected, Message: fmt.Sprintf("%d of %d points rejected", resp.Rejected, len(us))}
	}
	writeJSON(w, status, resp)
}
