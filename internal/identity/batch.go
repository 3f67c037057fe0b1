package identity

import (
	"container/list"
	"fmt"
	"sync"

	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"google.golang.org/protobuf/proto"
)

// ExpandedKey is a public key with its curve point decompressed and its
// precomputed tables built once, so each verification against it skips that
// work. Build one per frequent signer (a hotspot, the router, the oracle)
// and keep it; it is safe for concurrent use. It applies the same acceptance
// rule as PublicKey.Verify.
type ExpandedKey struct {
	pk PublicKey
	x  *ed25519.ExpandedPublicKey
}

// Expand builds the ExpandedKey of pk. It fails when pk is not the encoding of
// a curve point (no signature can ever verify against such a key).
func Expand(pk PublicKey) (*ExpandedKey, error) {
	x, err := ed25519.NewExpandedPublicKey(ed25519.PublicKey(pk[:]))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPublicKey, err)
	}
	return &ExpandedKey{pk: pk, x: x}, nil
}

// PublicKey returns the key that was expanded.
func (k *ExpandedKey) PublicKey() PublicKey { return k.pk }

// Verify reports whether sig is a valid signature of msg by the key.
func (k *ExpandedKey) Verify(msg, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	return ed25519.VerifyExpandedWithOptions(k.x, msg, sig, verifyOptions)
}

// VerifyMessage checks m's signature against the key, like Verify(m, pk).
func (k *ExpandedKey) VerifyMessage(m proto.Message) error {
	sig, b, err := signatureAndBytes(m)
	if err != nil {
		return err
	}
	if !k.Verify(b, sig) {
		return ErrBadSignature
	}
	return nil
}

// KeyCache keeps the ExpandedKeys of the most recently used signers, at most
// a fixed number of them (least recently used first out); each takes about
// 1.5 KiB. It is safe for concurrent use.
type KeyCache struct {
	mu    sync.Mutex
	max   int
	byKey map[PublicKey]*list.Element // of *ExpandedKey
	lru   *list.List                  // front = most recently used
}

// NewKeyCache returns an empty cache holding at most size keys (at least 1).
func NewKeyCache(size int) *KeyCache {
	size = max(size, 1)
	return &KeyCache{max: size, byKey: make(map[PublicKey]*list.Element, size), lru: list.New()}
}

// Get returns the ExpandedKey of pk, expanding and caching it when absent.
// Keys that do not decode to a curve point are not cached.
func (c *KeyCache) Get(pk PublicKey) (*ExpandedKey, error) {
	c.mu.Lock()
	if e, ok := c.byKey[pk]; ok {
		c.lru.MoveToFront(e)
		k := e.Value.(*ExpandedKey)
		c.mu.Unlock()
		return k, nil
	}
	c.mu.Unlock()

	// Expand outside the lock: it costs tens of microseconds.
	k, err := Expand(pk)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[pk]; ok { // another goroutine won the race
		c.lru.MoveToFront(e)
		return e.Value.(*ExpandedKey), nil
	}
	c.byKey[pk] = c.lru.PushFront(k)
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.byKey, old.Value.(*ExpandedKey).pk)
	}
	return k, nil
}

// Len returns the number of cached keys.
func (c *KeyCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// VerifySigned is VerifySigned(m) with the signer's key taken from the cache.
func (c *KeyCache) VerifySigned(m Signed) (PublicKey, error) {
	pk, err := PublicKeyFromBytes(m.GetSigner())
	if err != nil {
		return pk, err
	}
	k, err := c.Get(pk)
	if err != nil {
		return pk, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return pk, k.VerifyMessage(m)
}

// Batch verifies many signatures at once, several times faster per signature
// than one by one, and still says which entries are valid. It applies the same
// acceptance rule as PublicKey.Verify, entry by entry: an entry is valid in a
// batch exactly when it is valid alone. A Batch is not safe for concurrent use.
//
// Prefer AddExpanded with keys from a KeyCache: below about 95 entries the
// batch otherwise expands every key it is given, which costs more than the
// batch saves on small batches.
type Batch struct {
	v *ed25519.BatchVerifier
	n int
}

// NewBatch returns an empty batch with room for n entries.
func NewBatch(n int) *Batch {
	return &Batch{v: ed25519.NewBatchVerifierWithCapacity(max(n, 0))}
}

// Len returns the number of entries added.
func (b *Batch) Len() int { return b.n }

// Add adds a signature sig of msg by pk as the next entry. Malformed input
// (a signature of the wrong length, a key that is not a point) makes an entry
// that is invalid, never a panic.
func (b *Batch) Add(pk PublicKey, msg, sig []byte) {
	b.v.AddWithOptions(ed25519.PublicKey(pk[:]), msg, sig, verifyOptions)
	b.n++
}

// AddExpanded adds a signature sig of msg by an expanded key as the next entry.
func (b *Batch) AddExpanded(k *ExpandedKey, msg, sig []byte) {
	b.v.AddExpandedWithOptions(k.x, msg, sig, verifyOptions)
	b.n++
}

// AddSigned adds m, signed by the key in its own signer field, as the next
// entry and returns that key. It always adds exactly one entry, so indexes
// match the order of calls; when m cannot be checked at all (no signature
// field, a signer that is not 32 bytes) the entry is invalid and the error
// says why.
func (b *Batch) AddSigned(m Signed) (PublicKey, error) {
	pk, err := PublicKeyFromBytes(m.GetSigner())
	if err != nil {
		b.addInvalid()
		return pk, err
	}
	sig, msg, err := signatureAndBytes(m)
	if err != nil {
		b.addInvalid()
		return pk, err
	}
	b.Add(pk, msg, sig)
	return pk, nil
}

// addInvalid adds an entry that cannot verify (a signature of length 0).
func (b *Batch) addInvalid() {
	var zero PublicKey
	b.Add(zero, nil, nil)
}

// Verify checks every entry. ok is true when all entries are valid; valid[i]
// tells whether the i-th entry added is. An empty batch is trivially valid.
// When the batch equation fails, entries are rechecked one by one, so the
// cost of a batch with a bad signature is about that of single verification.
func (b *Batch) Verify() (ok bool, valid []bool) {
	if b.n == 0 {
		return true, nil
	}
	return b.v.Verify(nil) // nil: random coefficients from crypto/rand
}
