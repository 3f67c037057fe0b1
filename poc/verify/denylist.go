package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
)

// MaxDenylistSize is the largest denylist file accepted.
const MaxDenylistSize = 16 << 20

// denylistDomain prefixes the signed bytes so a denylist signature cannot be
// replayed as any other signature of the same key.
const denylistDomain = "hexnet-denylist-v1\n"

// ErrBadDenylist is returned for a denylist file that does not decode or
// whose signature does not verify against the configured key.
var ErrBadDenylist = errors.New("verify: bad denylist")

// DenylistBody is the signed content of a denylist file.
type DenylistBody struct {
	Version  int                   `json:"version"` // 1
	IssuedAt time.Time             `json:"issued_at"`
	Hotspots []identity.Address    `json:"hotspots"` // denied hotspots
	Edges    [][2]identity.Address `json:"edges"`    // denied (beaconer, witness) pairs, either direction
}

// DenylistFile is the file format: JSON {"body": base64 of the body's JSON,
// "signer": address, "signature": base64 ed25519 over
// "hexnet-denylist-v1\n" ‖ body}.
type DenylistFile struct {
	Body      []byte           `json:"body"`
	Signer    identity.Address `json:"signer"`
	Signature []byte           `json:"signature"`
}

type edge [2]identity.PublicKey

// Denylist holds denied hotspots and pairs. A nil *Denylist denies nothing.
type Denylist struct {
	issuedAt time.Time
	hotspots map[identity.PublicKey]bool
	edges    map[edge]bool
}

func edgeOf(a, b identity.PublicKey) edge {
	if string(b[:]) < string(a[:]) {
		a, b = b, a
	}
	return edge{a, b}
}

// SignDenylist encodes and signs a denylist body into a file.
func SignDenylist(k *identity.Key, body DenylistBody) ([]byte, error) {
	if body.Version == 0 {
		body.Version = 1
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("verify: encode denylist: %w", err)
	}
	f := DenylistFile{Body: b, Signer: k.Address(), Signature: k.SignBytes(append([]byte(denylistDomain), b...))}
	return json.MarshalIndent(f, "", "  ")
}

// LoadDenylist decodes a denylist file and checks its signature against the
// trusted denylist key.
func LoadDenylist(data []byte, trusted identity.PublicKey) (*Denylist, error) {
	if len(data) > MaxDenylistSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadDenylist, len(data))
	}
	var f DenylistFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadDenylist, err)
	}
	signer, err := identity.ParseAddress(string(f.Signer))
	if err != nil || signer != trusted {
		return nil, fmt.Errorf("%w: signer %q is not the denylist key", ErrBadDenylist, f.Signer)
	}
	if !trusted.Verify(append([]byte(denylistDomain), f.Body...), f.Signature) {
		return nil, fmt.Errorf("%w: signature", ErrBadDenylist)
	}
	var body DenylistBody
	if err := json.Unmarshal(f.Body, &body); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrBadDenylist, err)
	}
	if body.Version != 1 {
		return nil, fmt.Errorf("%w: version %d", ErrBadDenylist, body.Version)
	}
	d := &Denylist{issuedAt: body.IssuedAt, hotspots: map[identity.PublicKey]bool{}, edges: map[edge]bool{}}
	for _, a := range body.Hotspots {
		pk, err := identity.ParseAddress(string(a))
		if err != nil {
			return nil, fmt.Errorf("%w: hotspot %q: %v", ErrBadDenylist, a, err)
		}
		d.hotspots[pk] = true
	}
	for _, e := range body.Edges {
		a, err1 := identity.ParseAddress(string(e[0]))
		b, err2 := identity.ParseAddress(string(e[1]))
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%w: edge %v: %v", ErrBadDenylist, e, err)
		}
		d.edges[edgeOf(a, b)] = true
	}
	return d, nil
}

// IssuedAt is when the denylist was issued.
func (d *Denylist) IssuedAt() time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.issuedAt
}

// Denied reports whether a hotspot is denied.
func (d *Denylist) Denied(pk identity.PublicKey) bool { return d != nil && d.hotspots[pk] }

// DeniedEdge reports whether the pair is denied (in either direction).
func (d *Denylist) DeniedEdge(a, b identity.PublicKey) bool {
	return d != nil && d.edges[edgeOf(a, b)]
}
