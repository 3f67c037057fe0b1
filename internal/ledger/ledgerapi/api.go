// Package ledgerapi serves the ledger over HTTP under /api/v1/ledger/ and is
// the client the hexnet CLI uses against it.
//
// Routes (all JSON; protobuf payloads travel base64-encoded):
//
//	POST /api/v1/ledger/ops                     submit a signed op: protobuf body
//	                                            (application/octet-stream or x-protobuf)
//	                                            or JSON {"op": "<base64 protobuf>"}
//	GET  /api/v1/ledger/status                  network, height, head, next epoch, oracle address
//	GET  /api/v1/ledger/accounts/{addr}
//	GET  /api/v1/ledger/hotspots/{addr}
//	GET  /api/v1/ledger/ouis, /ouis/{id}
//	GET  /api/v1/ledger/epochs                  closed epochs
//	GET  /api/v1/ledger/epochs/{n}              signed root and manifest
//	GET  /api/v1/ledger/epochs/{n}/proof/{addr} proofs of the entries of an account or hotspot
//
// Errors are {"error": {"code": "...", "message": "..."}} with a stable code
// per ledger sentinel (see codes).
package ledgerapi

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
)

// Prefix is the path the handler serves under.
const Prefix = "/api/v1/ledger/"

const maxBody = 256 << 10

// codes maps ledger sentinels to stable error codes and HTTP statuses.
var codes = []struct {
	err    error
	code   string
	status int
}{
	{ledger.ErrMalformed, "malformed", http.StatusBadRequest},
	{ledger.ErrNotSubmittable, "not_submittable", http.StatusBadRequest},
	{ledger.ErrBadSignature, "bad_signature", http.StatusUnauthorized},
	{ledger.ErrWrongSigner, "wrong_signer", http.StatusForbidden},
	{ledger.ErrNonce, "nonce", http.StatusConflict},
	{ledger.ErrAlreadyOnboarded, "already_onboarded", http.StatusConflict},
	{ledger.ErrMakerExists, "maker_exists", http.StatusConflict},
	{ledger.ErrInsufficientFunds, "insufficient_funds", http.StatusUnprocessableEntity},
	{ledger.ErrBadAmount, "bad_amount", http.StatusUnprocessableEntity},
	{ledger.ErrOverflow, "overflow", http.StatusUnprocessableEntity},
	{ledger.ErrUnknownAccount, "unknown_account", http.StatusUnprocessableEntity},
	{ledger.ErrUnknownMaker, "unknown_maker", http.StatusUnprocessableEntity},
	{ledger.ErrUnknownHotspot, "unknown_hotspot", http.StatusUnprocessableEntity},
	{ledger.ErrUnknownOUI, "unknown_oui", http.StatusUnprocessableEntity},
	{ledger.ErrGainOutOfBounds, "gain_out_of_bounds", http.StatusUnprocessableEntity},
	{ledger.ErrElevationOutOfBounds, "elevation_out_of_bounds", http.StatusUnprocessableEntity},
	{ledger.ErrInvalidCell, "invalid_cell", http.StatusUnprocessableEntity},
	{ledger.ErrRangeOutsidePool, "range_outside_pool", http.StatusUnprocessableEntity},
	{ledger.ErrRangeOverlap, "range_overlap", http.StatusUnprocessableEntity},
	{ledger.ErrPoolExhausted, "pool_exhausted", http.StatusUnprocessableEntity},
	{ledger.ErrBadDestination, "bad_destination", http.StatusUnprocessableEntity},
	{ledger.ErrBadMaxCopies, "bad_max_copies", http.StatusUnprocessableEntity},
	{ledger.ErrTooManyEUIs, "too_many_euis", http.StatusUnprocessableEntity},
	{ledger.ErrUnknownEpoch, "unknown_epoch", http.StatusNotFound},
	{ledger.ErrNotInManifest, "not_in_manifest", http.StatusNotFound},
	{ledger.ErrClosed, "unavailable", http.StatusServiceUnavailable},
}

// Error codes that do not come from a ledger sentinel.
const (
	CodeNotFound   = "not_found"
	CodeBadRequest = "bad_request"
	CodeInternal   = "internal"
)

// errorBody is the JSON error envelope.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Handler serves the ledger API.
type Handler struct {
	l   *ledger.Ledger
	log *slog.Logger
	mux *http.ServeMux
}

// NewHandler returns the API handler of l; mount it at Prefix.
func NewHandler(l *ledger.Ledger, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{l: l, log: log.With("component", "ledger_api"), mux: http.NewServeMux()}
	h.mux.HandleFunc("POST "+Prefix+"ops", h.submit)
	h.mux.HandleFunc("GET "+Prefix+"status", h.status)
	h.mux.HandleFunc("GET "+Prefix+"accounts/{addr}", h.account)
	h.mux.HandleFunc("GET "+Prefix+"hotspots/{addr}", h.hotspot)
	h.mux.HandleFunc("GET "+Prefix+"ouis", h.ouis)
	h.mux.HandleFunc("GET "+Prefix+"ouis/{id}", h.oui)
	h.mux.HandleFunc("GET "+Prefix+"epochs", h.epochs)
	h.mux.HandleFunc("GET "+Prefix+"epochs/{n}", h.epoch)
	h.mux.HandleFunc("GET "+Prefix+"epochs/{n}/proof/{addr}", h.proof)
	h.mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such ledger route: "+r.Method+" "+r.URL.Path)
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			writeError(w, c.status, c.code, err.Error())
			return
		}
	}
	h.log.Error("ledger api", "error", err)
	writeError(w, http.StatusInternalServerError, CodeInternal, err.Error())
}

// SubmitRequest is the JSON form of POST ops.
type SubmitRequest struct {
	Op string `json:"op"` // base64 (standard) of the protobuf ledgerpb.Op
}

// SubmitResponse answers an accepted op.
type SubmitResponse struct {
	Height uint64 `json:"height"`
}

func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "read body: "+err.Error())
		return
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body above %d bytes", maxBody))
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var req SubmitRequest
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, "malformed", "JSON body: "+err.Error())
			return
		}
		if body, err = base64.StdEncoding.DecodeString(req.Op); err != nil {
			writeError(w, http.StatusBadRequest, "malformed", "op is not base64: "+err.Error())
			return
		}
	}
	height, err := h.l.SubmitBytes(body)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, SubmitResponse{Height: height})
}

// Status describes the ledger.
type Status struct {
	Network   string           `json:"network"`
	Height    uint64           `json:"height"`
	Head      string           `json:"head"`
	NextEpoch uint64           `json:"next_epoch"`
	Oracle    identity.Address `json:"oracle"`
	DCPrice   uint64           `json:"dc_price"`
}

func (h *Handler) status(w http.ResponseWriter, _ *http.Request) {
	head := h.l.Head()
	writeJSON(w, http.StatusOK, Status{
		Network: h.l.Config().Network, Height: h.l.Height(), Head: hex.EncodeToString(head[:]),
		NextEpoch: h.l.NextEpoch(), Oracle: h.l.Oracle().Address(), DCPrice: h.l.Config().DCPrice,
	})
}

func (h *Handler) addr(w http.ResponseWriter, r *http.Request) (identity.PublicKey, bool) {
	pk, err := identity.ParseAddress(r.PathValue("addr"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_address", err.Error())
		return pk, false
	}
	return pk, true
}

func (h *Handler) account(w http.ResponseWriter, r *http.Request) {
	pk, ok := h.addr(w, r)
	if !ok {
		return
	}
	a, _ := h.l.Account(pk) // an unseen account is all zeros, which is its true state
	writeJSON(w, http.StatusOK, a)
}

func (h *Handler) hotspot(w http.ResponseWriter, r *http.Request) {
	pk, ok := h.addr(w, r)
	if !ok {
		return
	}
	info, ok := h.l.Hotspot(pk)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_hotspot", "no hotspot "+string(pk.Address()))
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (h *Handler) ouis(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.l.OUIs())
}

func (h *Handler) oui(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "OUI id: "+err.Error())
		return
	}
	info, ok := h.l.OUI(id)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_oui", fmt.Sprintf("no OUI %d", id))
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// EpochJSON is a closed epoch with its signed root.
type EpochJSON struct {
	ledger.EpochInfo
	SignedRoot string `json:"signed_root"` // base64 protobuf ledgerpb.EpochRoot
}

// EntryJSON is a manifest entry.
type EntryJSON struct {
	Account      identity.Address `json:"account"`
	Hotspot      identity.Address `json:"hotspot,omitempty"`
	Beacon       uint64           `json:"beacon"`
	Witness      uint64           `json:"witness"`
	DataTransfer uint64           `json:"data_transfer"`
	Operations   uint64           `json:"operations"`
	Oracles      uint64           `json:"oracles"`
}

// ManifestJSON is a closed epoch's manifest.
type ManifestJSON struct {
	Epoch   EpochJSON   `json:"epoch"`
	Entries []EntryJSON `json:"entries"`
}

// ProofJSON is one entry's proof.
type ProofJSON struct {
	Entry EntryJSON `json:"entry"`
	Proof string    `json:"proof"` // base64 protobuf ledgerpb.RewardProof, including the signed root
}

// ProofsJSON answers a proof request.
type ProofsJSON struct {
	Epoch  uint64      `json:"epoch"`
	Proofs []ProofJSON `json:"proofs"`
}

func addrOf(b []byte) identity.Address {
	if len(b) == 0 {
		return ""
	}
	pk, err := identity.PublicKeyFromBytes(b)
	if err != nil {
		return identity.Address("invalid:" + hex.EncodeToString(b))
	}
	return pk.Address()
}

// EntryToJSON renders a manifest entry.
func EntryToJSON(e *ledgerpb.ManifestEntry) EntryJSON {
	return EntryJSON{
		Account: addrOf(e.GetAccount()), Hotspot: addrOf(e.GetHotspot()),
		Beacon: e.GetBeacon(), Witness: e.GetWitness(), DataTransfer: e.GetDataTransfer(),
		Operations: e.GetOperations(), Oracles: e.GetOracles(),
	}
}

func b64(m proto.Message) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	return base64.StdEncoding.EncodeToString(b)
}

func (h *Handler) epochs(w http.ResponseWriter, _ *http.Request) {
	eps := h.l.Epochs()
	out := make([]EpochJSON, len(eps))
	for i, e := range eps {
		out[i] = EpochJSON{EpochInfo: e, SignedRoot: b64(e.Signed)}
	}
	writeJSON(w, http.StatusOK, out)
}

func epochParam(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	n, err := strconv.ParseUint(r.PathValue("n"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "epoch: "+err.Error())
		return 0, false
	}
	return n, true
}

func (h *Handler) epoch(w http.ResponseWriter, r *http.Request) {
	n, ok := epochParam(w, r)
	if !ok {
		return
	}
	root, entries, err := h.l.Manifest(n)
	if err != nil {
		h.fail(w, err)
		return
	}
	out := ManifestJSON{Epoch: EpochJSON{SignedRoot: b64(root)}, Entries: make([]EntryJSON, len(entries))}
	for _, e := range h.l.Epochs() {
		if e.Epoch == n {
			out.Epoch.EpochInfo = e
		}
	}
	for i, e := range entries {
		out.Entries[i] = EntryToJSON(e)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) proof(w http.ResponseWriter, r *http.Request) {
	n, ok := epochParam(w, r)
	if !ok {
		return
	}
	pk, ok := h.addr(w, r)
	if !ok {
		return
	}
	ps, err := h.l.Proofs(n, pk)
	if err != nil {
		h.fail(w, err)
		return
	}
	out := ProofsJSON{Epoch: n, Proofs: make([]ProofJSON, len(ps))}
	for i, p := range ps {
		out.Proofs[i] = ProofJSON{Entry: EntryToJSON(p.GetEntry()), Proof: b64(p)}
	}
	writeJSON(w, http.StatusOK, out)
}
