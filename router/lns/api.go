package lns

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/hexnet/hexnet/internal/lorawan"
)

// PutDevice registers or replaces a device.
func (s *Server) PutDevice(d Device) error {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidDevice, err)
	}
	dd, err := decodeDevice(b)
	if err != nil {
		return err
	}
	p, _ := dd.parse()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.devices[p.devEUI] = dd
	s.persistLocked(dd)
	return nil
}

// Device returns a copy of a device.
func (s *Server) Device(devEUI string) (Device, error) {
	e, err := lorawan.ParseEUI64(devEUI)
	if err != nil {
		return Device{}, fmt.Errorf("%w: %v", ErrInvalidDevice, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[e]
	if d == nil {
		return Device{}, ErrUnknownDevice
	}
	c := *d
	c.Queue = append([]QueueItem(nil), d.Queue...)
	c.DevNonces = append([]uint16(nil), d.DevNonces...)
	return c, nil
}

// Devices lists all devices sorted by DevEUI.
func (s *Server) Devices() []Device {
	s.mu.Lock()
	out := make([]Device, 0, len(s.devices))
	for _, d := range s.devices {
		out = append(out, *d)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].DevEUI < out[j].DevEUI })
	return out
}

// DeleteDevice removes a device.
func (s *Server) DeleteDevice(devEUI string) error {
	e, err := lorawan.ParseEUI64(devEUI)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidDevice, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[e]
	if d == nil {
		return ErrUnknownDevice
	}
	delete(s.devices, e)
	if s.deps.Store != nil {
		return s.deps.Store.Delete([]byte("dev/"+d.DevEUI), true)
	}
	return nil
}

// Enqueue queues a downlink for the device's next uplink.
func (s *Server) Enqueue(devEUI string, item QueueItem) error {
	if item.FPort == 0 || item.FPort > 223 || len(item.Data) > 242 {
		return fmt.Errorf("%w: fport %d, %d bytes", ErrInvalidDevice, item.FPort, len(item.Data))
	}
	e, err := lorawan.ParseEUI64(devEUI)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidDevice, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[e]
	if d == nil {
		return ErrUnknownDevice
	}
	if len(d.Queue) >= MaxQueue {
		return ErrQueueFull
	}
	d.Queue = append(d.Queue, item)
	s.persistLocked(d)
	return nil
}

// Handler serves the device API:
//
//	GET    /devices                   list
//	GET    /devices/{dev_eui}         one device
//	PUT    /devices/{dev_eui}         register/replace (body: Device JSON)
//	DELETE /devices/{dev_eui}         remove
//	POST   /devices/{dev_eui}/queue   queue a downlink (body: QueueItem JSON)
//
// With a non-empty token every request needs "Authorization: Bearer <token>".
func (s *Server) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Devices()) })
	mux.HandleFunc("GET /devices/{eui}", func(w http.ResponseWriter, r *http.Request) {
		d, err := s.Device(r.PathValue("eui"))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, 200, d)
	})
	mux.HandleFunc("PUT /devices/{eui}", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			writeErr(w, err)
			return
		}
		d, err := decodeDevice(b)
		if err != nil {
			writeErr(w, err)
			return
		}
		if e, err := lorawan.ParseEUI64(r.PathValue("eui")); err != nil || e.String() != d.DevEUI {
			http.Error(w, "dev_eui does not match the path", http.StatusBadRequest)
			return
		}
		if err := s.PutDevice(*d); err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, 200, d)
	})
	mux.HandleFunc("DELETE /devices/{eui}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteDevice(r.PathValue("eui")); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /devices/{eui}/queue", func(w http.ResponseWriter, r *http.Request) {
		var q QueueItem
		dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.Enqueue(r.PathValue("eui"), q); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
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
	case errors.Is(err, ErrUnknownDevice):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, ErrInvalidDevice):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, ErrQueueFull):
		http.Error(w, err.Error(), http.StatusConflict)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
