package routes

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// AdminHandler serves the route admin API over m:
//
//	GET    /routes        list all routes
//	GET    /routes/{id}   one route
//	PUT    /routes/{id}   create or replace (body: route JSON; its id must match)
//	DELETE /routes/{id}   remove
//
// With a non-empty token every request needs "Authorization: Bearer <token>".
// Mount it under a prefix with http.StripPrefix.
func AdminHandler(m Manager, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /routes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, m.List())
	})
	mux.HandleFunc("GET /routes/{id}", func(w http.ResponseWriter, r *http.Request) {
		rt, err := m.Get(r.PathValue("id"))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rt)
	})
	mux.HandleFunc("PUT /routes/{id}", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, MaxRouteSize+1))
		if err != nil {
			writeErr(w, err)
			return
		}
		rt, err := Decode(b)
		if err != nil {
			writeErr(w, err)
			return
		}
		if rt.ID != r.PathValue("id") {
			http.Error(w, "route id does not match the path", http.StatusBadRequest)
			return
		}
		if err := m.Put(*rt); err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rt)
	})
	mux.HandleFunc("DELETE /routes/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Delete(r.PathValue("id")); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	if token == "" {
		return mux
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
