// Package api is the explorer's HTTP API under /api/v1/ (JSON, GeoJSON where
// there is geometry, CSV for reward exports), the mapper ingest endpoint, the
// live feed's WebSocket endpoint and the embedded web map at "/".
//
// Errors are JSON: {"error":{"code":"…","message":"…"}} with a stable code
// (bad_request, not_found, too_large, rejected, method_not_allowed, internal).
package api

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hexnet/hexnet/maps"
	"github.com/hexnet/hexnet/maps/live"
	"github.com/hexnet/hexnet/maps/web"
	"github.com/uber/h3-go/v4"
)

// Error codes of the API.
const (
	CodeBadRequest       = "bad_request"
	CodeNotFound         = "not_found"
	CodeTooLarge         = "too_large"
	CodeRejected         = "rejected"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeInternal         = "internal"
	CodeUnavailable      = "unavailable"
)

// BaseMap configures the web map's background; empty means none (the map
// works offline with only hexnet's layers).
type BaseMap struct {
	// TileURL is a raster tile URL template ({z}/{x}/{y}), e.g.
	// "https://tile.openstreetmap.org/{z}/{x}/{y}.png".
	TileURL string `json:"tile_url,omitempty" toml:"tile_url" help:"raster tile URL template with {z}/{x}/{y}"`
	// StyleURL is a MapLibre vector style URL; it wins over TileURL.
	StyleURL string `json:"style_url,omitempty" toml:"style_url" help:"MapLibre vector style URL (wins over tile_url)"`
	// Attribution is shown in the map's corner.
	Attribution string `json:"attribution,omitempty" toml:"attribution" help:"attribution shown on the map"`
}

// Config tunes the API. Zero fields take their defaults.
type Config struct {
	// MaxFeatures caps the features of one bbox response. Default 20000.
	MaxFeatures int `toml:"max_features" help:"features in one bbox response; more is refused with too_large"`
	// MaxBBoxCells refuses a hexes/coverage bbox whose area holds more than
	// this many hexes at the asked resolution. Default 250000.
	MaxBBoxCells float64 `toml:"max_bbox_cells" help:"refuse a hexes/coverage bbox holding more hexes than this at the asked res"`
	// MaxPage caps the hotspot list's limit. Default 1000.
	MaxPage int `toml:"max_page" help:"largest limit of the hotspot list"`
	// CoveredRings is how many res-9 rings "covered" looks around a point. Default 3.
	CoveredRings int `toml:"covered_rings" help:"res-9 rings searched around a point by /covered"`
	// CoveredRSSI is the estimated RSSI (dBm) at which a point counts as covered. Default −125.
	CoveredRSSI float64 `toml:"covered_rssi" help:"estimated RSSI (dBm) at which a point counts as covered"`
	// Ingest holds the mapper ingest gates.
	Ingest IngestConfig `toml:"ingest" help:"mapper ingest gates"`
	// BaseMap is the web map's background.
	BaseMap BaseMap `toml:"basemap" help:"web map background; empty means none (works offline)"`
}

// Validate reports out-of-range settings.
func (c Config) Validate() error {
	if c.MaxFeatures < 0 || c.MaxBBoxCells < 0 || c.MaxPage < 0 || c.CoveredRings < 0 || c.CoveredRings > 10 {
		return errors.New("api: config value out of range")
	}
	return c.Ingest.Validate()
}

func (c *Config) defaults() {
	if c.MaxFeatures == 0 {
		c.MaxFeatures = 20000
	}
	if c.MaxBBoxCells == 0 {
		c.MaxBBoxCells = 250000
	}
	if c.MaxPage == 0 {
		c.MaxPage = 1000
	}
	if c.CoveredRings == 0 {
		c.CoveredRings = 3
	}
	if c.CoveredRSSI == 0 {
		c.CoveredRSSI = -125
	}
	c.Ingest.defaults()
}

// Deps are the API's collaborators.
type Deps struct {
	// Agg holds the aggregates. Required.
	Agg *maps.Aggregator
	// Live serves /api/v1/live (a *live.Hub); nil answers 503.
	Live http.Handler
	// Web serves "/" (default: the embedded web map).
	Web http.Handler
	// Now is the clock (ingest time gates, default mapper time). Default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Server is the HTTP handler of the maps API and web map.
type Server struct {
	cfg Config
	agg *maps.Aggregator
	now func() time.Time
	log *slog.Logger
	mux *http.ServeMux
}

// New builds the handler; it starts nothing.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Agg == nil {
		return nil, errors.New("api: Deps.Agg is required")
	}
	cfg.defaults()
	s := &Server{cfg: cfg, agg: deps.Agg, now: deps.Now, log: deps.Logger, mux: http.NewServeMux()}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	webH := deps.Web
	if webH == nil {
		webH = web.Handler()
	}
	liveH := deps.Live
	if liveH == nil {
		liveH = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "live feed not configured")
		})
	}
	m := s.mux
	m.HandleFunc("GET /api/v1/stats", s.stats)
	m.HandleFunc("GET /api/v1/config", s.config)
	m.HandleFunc("GET /api/v1/hotspots", s.hotspots)
	m.HandleFunc("GET /api/v1/hotspots.geojson", s.hotspotsGeoJSON)
	m.HandleFunc("GET /api/v1/search", s.search)
	m.HandleFunc("GET /api/v1/hotspots/{addr}", s.hotspot)
	m.HandleFunc("GET /api/v1/hotspots/{addr}/witnesses.geojson", s.witnesses)
	m.HandleFunc("GET /api/v1/hotspots/{addr}/rewards.csv", s.rewardsCSV)
	m.HandleFunc("GET /api/v1/hexes", s.hexes)
	m.HandleFunc("GET /api/v1/hexes/{cell}", s.hex)
	m.HandleFunc("GET /api/v1/coverage", s.coverage)
	m.HandleFunc("GET /api/v1/covered", s.covered)
	m.HandleFunc("POST /api/v1/ingest/uplink", s.ingest)
	m.Handle("GET /api/v1/live", liveH)
	m.HandleFunc("/api/", s.notFound)
	m.Handle("/", webH)
	return s, nil
}

// ServeHTTP routes the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// notFound answers unknown API paths: 405 when the path exists for another
// method, else 404, both as JSON errors.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/api/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" not allowed on "+r.URL.Path)
		return
	}
	writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
}

// errorBody is the JSON error envelope.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// fail maps an aggregator error to a response.
func (s *Server) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, maps.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, err.Error())
	case errors.Is(err, maps.ErrTooMany):
		writeError(w, http.StatusBadRequest, CodeTooLarge, err.Error()+"; zoom in or use a coarser res")
	case errors.Is(err, maps.ErrInvalid):
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
	default:
		s.log.Error("maps api", "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "internal error")
	}
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.agg.Stats())
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"basemap":      s.cfg.BaseMap,
		"min_res":      maps.MinRes,
		"max_res":      maps.MaxRes,
		"coverage_res": maps.CoverageRes,
		"max_features": s.cfg.MaxFeatures,
	})
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be an integer in [%d, %d]", name, lo, hi)
	}
	return n, nil
}

func (s *Server) hotspots(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", 100, 1, s.cfg.MaxPage)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	offset, err := intParam(r, "offset", 0, 0, math.MaxInt32)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	list, total := s.agg.Hotspots(offset, limit, r.URL.Query().Get("owner"))
	writeJSON(w, http.StatusOK, map[string]any{"hotspots": list, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" || len(q) > 200 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "q must be 1–200 characters")
		return
	}
	limit, err := intParam(r, "limit", 20, 1, 100)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"query": q, "results": s.agg.Search(q, limit)})
}

func (s *Server) hotspot(w http.ResponseWriter, r *http.Request) {
	d, err := s.agg.Detail(r.PathValue("addr"), 30)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// bboxParam parses the required bbox parameter (or the world when optional).
func bboxParam(r *http.Request, required bool) (maps.BBox, error) {
	v := r.URL.Query().Get("bbox")
	if v == "" {
		if required {
			return maps.BBox{}, errors.New("bbox=minLng,minLat,maxLng,maxLat is required")
		}
		return maps.BBox{-180, -90, 180, 90}, nil
	}
	b, err := live.ParseBBox(v)
	if err != nil {
		return maps.BBox{}, err
	}
	return maps.BBox(*b), nil
}

func (s *Server) resBBox(w http.ResponseWriter, r *http.Request, def, maxRes int) (int, maps.BBox, bool) {
	b, err := bboxParam(r, true)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return 0, b, false
	}
	res, err := intParam(r, "res", def, maps.MinRes, maxRes)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return 0, b, false
	}
	if est := b.EstimateCells(res); est > s.cfg.MaxBBoxCells {
		writeError(w, http.StatusBadRequest, CodeTooLarge, fmt.Sprintf(
			"bbox holds about %.0f hexes at res %d (limit %.0f); zoom in or use a coarser res", est, res, s.cfg.MaxBBoxCells))
		return 0, b, false
	}
	return res, b, true
}

func (s *Server) hexes(w http.ResponseWriter, r *http.Request) {
	res, b, ok := s.resBBox(w, r, 8, maps.MaxRes)
	if !ok {
		return
	}
	hx, err := s.agg.Hexes(res, b, s.cfg.MaxFeatures)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeGeoJSON(w, r, AppendHexes(make([]byte, 0, 600*len(hx)+64), hx))
}

// writeGeoJSON sends body, gzipped (fastest level) when the client accepts
// it and the body is large enough to gain from it.
func writeGeoJSON(w http.ResponseWriter, r *http.Request, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/geo+json")
	h.Add("Vary", "Accept-Encoding")
	if len(body) >= 8<<10 && acceptsGzip(r) {
		var buf bytes.Buffer
		buf.Grow(len(body) / 4)
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(body)
		if zw.Close() == nil {
			h.Set("Content-Encoding", "gzip")
			body = buf.Bytes()
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func cellParam(r *http.Request) (h3.Cell, error) {
	v := strings.ToLower(r.PathValue("cell"))
	c := h3.Cell(h3.IndexFromString(v))
	if len(v) == 0 || len(v) > 16 || !c.IsValid() {
		return 0, fmt.Errorf("%q is not an H3 cell index", r.PathValue("cell"))
	}
	return c, nil
}

func (s *Server) hex(w http.ResponseWriter, r *http.Request) {
	c, err := cellParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	d, err := s.agg.Hex(c)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) coverage(w http.ResponseWriter, r *http.Request) {
	res, b, ok := s.resBBox(w, r, maps.CoverageRes, maps.CoverageRes)
	if !ok {
		return
	}
	cv, err := s.agg.Coverage(res, b, s.cfg.MaxFeatures)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeGeoJSON(w, r, AppendCoverage(make([]byte, 0, 700*len(cv)+64), cv))
}

func floatParam(r *http.Request, name string) (float64, error) {
	v := r.URL.Query().Get(name)
	f, err := strconv.ParseFloat(v, 64)
	if v == "" || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s must be a number", name)
	}
	return f, nil
}

func (s *Server) covered(w http.ResponseWriter, r *http.Request) {
	lat, err := floatParam(r, "lat")
	if err == nil && (lat < -90 || lat > 90) {
		err = errors.New("lat must be in [-90, 90]")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	lng, err := floatParam(r, "lng")
	if err == nil && (lng < -180 || lng > 180) {
		err = errors.New("lng must be in [-180, 180]")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	ans, err := s.agg.Covered(lat, lng, s.cfg.CoveredRings, s.cfg.CoveredRSSI)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Server) hotspotsGeoJSON(w http.ResponseWriter, r *http.Request) {
	b, err := bboxParam(r, false)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	hs, err := s.agg.HotspotsIn(b, 5*s.cfg.MaxFeatures)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeGeoJSON(w, r, AppendHotspots(make([]byte, 0, 300*len(hs)+64), hs))
}

func (s *Server) witnesses(w http.ResponseWriter, r *http.Request) {
	es, err := s.agg.Edges(r.PathValue("addr"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeGeoJSON(w, r, AppendEdges(make([]byte, 0, 400*len(es)+64), es))
}

// timeParam parses an RFC 3339 time or a YYYY-MM-DD date (UTC midnight).
func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s must be RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02)", name)
}

func (s *Server) rewardsCSV(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("addr")
	from, err := timeParam(r, "from")
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	to, err := timeParam(r, "to")
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "from must be before to")
		return
	}
	if !s.agg.Known(addr) {
		s.fail(w, fmt.Errorf("%w: hotspot %q", maps.ErrNotFound, addr))
		return
	}
	rows, err := s.agg.Rewards(addr, from, to)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="rewards-%s.csv"`, safeName(addr)))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"epoch", "start", "end", "hotspot", "beacon", "witness", "data", "total"})
	for _, row := range rows {
		_ = cw.Write([]string{strconv.FormatUint(row.Epoch, 10), fmtTime(row.Start), fmtTime(row.End), addr,
			strconv.FormatUint(row.Beacon, 10), strconv.FormatUint(row.Witness, 10),
			strconv.FormatUint(row.Data, 10), strconv.FormatUint(row.Total, 10)})
	}
	cw.Flush()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	var c Config
	c.defaults()
	return c
}
