package ingest

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/poc"
	"github.com/hexnet/hexnet/poc/verify"
)

// DefaultQueryLimit is the number of entries returned when no limit is given.
const DefaultQueryLimit = 50

// Entry is one line of a hotspot's PoC activity: a beacon it sent (Role
// "beacon", with every witness) or a witness it made (Role "witness", with
// its own verdicts only; Reason, Scale and Units are the beacon's).
type Entry struct {
	Role        string         `json:"role"`
	ID          string         `json:"id"` // hex SHA-256 of the beacon report (of the witness report when witness_only)
	Beaconer    string         `json:"beaconer,omitempty"`
	ReceivedAt  time.Time      `json:"received_at"` // beacon receive time (first witness when witness_only)
	Epoch       uint64         `json:"epoch"`
	Reason      poc.Reason     `json:"reason"`
	Scale       float64        `json:"scale"`
	Units       float64        `json:"units"`
	WitnessOnly bool           `json:"witness_only,omitempty"`
	Witnesses   []WitnessEntry `json:"witnesses"`
}

// WitnessEntry is one witness verdict.
type WitnessEntry struct {
	Witness    string      `json:"witness"`
	ReceivedAt time.Time   `json:"received_at"`
	Reason     poc.Reason  `json:"reason"`
	Side       verify.Side `json:"side"`
	Rewarded   bool        `json:"rewarded"`
	Units      float64     `json:"units"`
	DistanceM  float64     `json:"distance_m,omitempty"`
	RSSI       float32     `json:"rssi"`
	SNR        float32     `json:"snr"`
	Frequency  uint64      `json:"frequency"`
}

// prefixEnd returns the smallest key greater than every key with prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Query returns up to limit entries of a hotspot's PoC activity, newest
// first.
func (p *Pipeline) Query(pk identity.PublicKey, limit int) ([]Entry, error) {
	prefix := append([]byte("h/"), pk[:]...)
	it, err := p.deps.Store.NewIter(prefix, prefixEnd(prefix))
	if err != nil {
		return nil, fmt.Errorf("ingest: query: %w", err)
	}
	defer it.Close()
	out := []Entry{}
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		k := it.Key()
		if len(k) != 2+32+8+32+1 {
			continue
		}
		var id [32]byte
		copy(id[:], k[2+32+8:])
		role := k[len(k)-1]
		at := ^binary.BigEndian.Uint64(k[2+32:])
		v, err := p.deps.Store.Get(timeKey(time.Unix(0, int64(at)), id))
		if errors.Is(err, store.ErrNotFound) {
			continue // past retention, its index entry not yet deleted
		}
		if err != nil {
			return nil, fmt.Errorf("ingest: query: %w", err)
		}
		r, err := decodeRecord(v)
		if err != nil {
			return nil, fmt.Errorf("ingest: query: %w", err)
		}
		out = append(out, entryOf(r, pk, role))
	}
	return out, it.Close()
}

func entryOf(r *Result, pk identity.PublicKey, role byte) Entry {
	e := Entry{
		Role: "beacon", ID: hex.EncodeToString(r.ID[:]), ReceivedAt: r.ReceivedAt, Epoch: r.Epoch,
		Reason: r.Reason, Scale: r.Scale, Units: r.Units, WitnessOnly: r.WitnessOnly, Witnesses: []WitnessEntry{},
	}
	if r.Beaconer != (identity.PublicKey{}) {
		e.Beaconer = r.Beaconer.Address().String()
	}
	if role == roleWitness {
		e.Role = "witness"
	}
	for _, w := range r.Witnesses {
		if role == roleWitness && w.Witness != pk {
			continue
		}
		e.Witnesses = append(e.Witnesses, WitnessEntry{
			Witness: w.Witness.Address().String(), ReceivedAt: w.ReceivedAt, Reason: w.Reason, Side: w.Side,
			Rewarded: w.Rewarded, Units: w.Units, DistanceM: w.DistanceM, RSSI: w.RSSI, SNR: w.SNR, Frequency: w.Frequency,
		})
	}
	return e
}

// HotspotPoC is the body of GET /api/v1/hotspots/{addr}/poc.
type HotspotPoC struct {
	Hotspot string  `json:"hotspot"`
	Name    string  `json:"name"`
	Items   []Entry `json:"items"`
}

// APIError is the body of every error response: {"error":{"code","message"}}.
type APIError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// QueryPattern is the route of Handler.
const QueryPattern = "GET /api/v1/hotspots/{addr}/poc"

// Handler serves QueryPattern: ?limit= (default 50, at most
// Config.MaxQueryLimit). Mount it on a ServeMux under QueryPattern.
func (p *Pipeline) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(QueryPattern, p.serveQuery)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e APIError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func (p *Pipeline) serveQuery(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("addr")
	pk, err := identity.ParseAddress(addr)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_address", fmt.Sprintf("%q is not a hotspot address", addr))
		return
	}
	limit := DefaultQueryLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > p.cfg.MaxQueryLimit {
			writeError(w, http.StatusBadRequest, "bad_limit", fmt.Sprintf("limit must be 1..%d", p.cfg.MaxQueryLimit))
			return
		}
		limit = n
	}
	items, err := p.Query(pk, limit)
	if err != nil {
		p.log.Error("poc ingest: query", "hotspot", addr, "err", err)
		code := http.StatusInternalServerError
		if errors.Is(err, ErrClosed) {
			code = http.StatusServiceUnavailable
		}
		writeError(w, code, "internal", "query failed")
		return
	}
	writeJSON(w, http.StatusOK, HotspotPoC{Hotspot: pk.Address().String(), Name: pk.Name(), Items: items})
}
