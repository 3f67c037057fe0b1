package trust

import (
	"encoding/json"
	"net/http"

	"github.com/hexnet/hexnet/internal/identity"
)

// QueryPattern is the route of Handler.
const QueryPattern = "GET /api/v1/hotspots/{addr}/trust"

// apiError is the body of an error response: {"error":{"code","message"}},
// the shape of the other PoC endpoints.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Handler serves QueryPattern: the hotspot's Trust as JSON (a hotspot never
// observed is shown in probation), 400 bad_address for an address that does
// not parse.
func (t *Tracker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(QueryPattern, func(w http.ResponseWriter, r *http.Request) {
		pk, err := identity.ParseAddress(r.PathValue("addr"))
		if err != nil {
			var e apiError
			e.Error.Code, e.Error.Message = "bad_address", err.Error()
			writeJSON(w, http.StatusBadRequest, e)
			return
		}
		writeJSON(w, http.StatusOK, t.Score(pk))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
