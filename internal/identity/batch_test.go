package identity

import (
	"bytes"
	"compress/gzip"
	stded25519 "crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/hexnet/hexnet/internal/wire"
)

// signedEntry is one (key, message, signature) triple.
type signedEntry struct {
	pk       PublicKey
	msg, sig []byte
}

// validEntries returns n valid signatures by a few deterministic keys.
func validEntries(t testing.TB, n int) []signedEntry {
	t.Helper()
	out := make([]signedEntry, n)
	for i := range out {
		k := testKey(t, byte(i%7))
		msg := fmt.Appendf(nil, "message %d", i)
		out[i] = signedEntry{k.Public(), msg, k.SignBytes(msg)}
	}
	return out
}

// verdicts verifies one entry on every path and fails the test unless all
// paths agree; it returns the common verdict. The batch paths put the entry
// among valid ones, in a small batch (precomputed tables) and a large one
// (Pippenger multiscalar multiplication), with and without expanded keys.
func verdicts(t *testing.T, pool []signedEntry, e signedEntry) bool {
	t.Helper()
	single := e.pk.Verify(e.msg, e.sig)

	ek, err := Expand(e.pk)
	if err != nil {
		if single {
			t.Fatalf("key %x does not expand (%v) but a signature verified", e.pk, err)
		}
	} else if got := ek.Verify(e.msg, e.sig); got != single {
		t.Fatalf("expanded %v, single %v", got, single)
	}

	for _, size := range []int{1, 9, 130} {
		for _, expanded := range []bool{false, true} {
			if expanded && ek == nil {
				continue
			}
			at := size / 2
			b := NewBatch(size)
			for i, v := range pool[:size] {
				switch {
				case i != at:
					b.Add(v.pk, v.msg, v.sig)
				case expanded:
					b.AddExpanded(ek, e.msg, e.sig)
				default:
					b.Add(e.pk, e.msg, e.sig)
				}
			}
			ok, valid := b.Verify()
			if ok != single || len(valid) != size {
				t.Fatalf("batch of %d (expanded %v): ok %v, %d results; single %v", size, expanded, ok, len(valid), single)
			}
			for i, v := range valid {
				if want := i != at || single; v != want {
					t.Fatalf("batch of %d (expanded %v): valid[%d] = %v, want %v", size, expanded, i, v, want)
				}
			}
		}
	}
	return single
}

// poolSize is the number of valid entries verdicts needs.
const poolSize = 130

// zip215Vectors reads the ZIP-215 edge cases (see testdata/README.md).
func zip215Vectors(t testing.TB) []signedEntry {
	t.Helper()
	f, err := os.Open("testdata/zip215.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var raw [][2]string
	if err := json.NewDecoder(zr).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	out := make([]signedEntry, len(raw))
	for i, r := range raw {
		pk, err1 := hex.DecodeString(r[0])
		sig, err2 := hex.DecodeString(r[1])
		if err1 != nil || err2 != nil || len(pk) != PublicKeySize {
			t.Fatalf("vector %d is malformed", i)
		}
		out[i] = signedEntry{PublicKey(pk), []byte("Zcash"), sig}
	}
	return out
}

// The ZIP-215 vectors are small-order and non-canonical A and R: the rule
// accepts them all, on every path.
func TestZIP215VectorsAgreeOnEveryPath(t *testing.T) {
	vs := zip215Vectors(t)
	if len(vs) != 196 {
		t.Fatalf("%d vectors, want 196", len(vs))
	}
	pool := validEntries(t, poolSize)
	for i, v := range vs {
		if !verdicts(t, pool, v) {
			t.Fatalf("vector %d rejected; ZIP-215 accepts it", i)
		}
	}
}

// groupOrder is ℓ = 2^252 + 27742317777372353535851937790883648493.
var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// addOrderToS returns sig with ℓ added to its S half: the same point
// equation, but a non-canonical scalar, the classic malleability.
func addOrderToS(sig []byte) []byte {
	le := func(b []byte) []byte { r := bytes.Clone(b); slicesReverse(r); return r }
	s := new(big.Int).SetBytes(le(sig[32:]))
	s.Add(s, groupOrder)
	out := bytes.Clone(sig)
	buf := make([]byte, 32)
	s.FillBytes(buf)
	copy(out[32:], le(buf))
	return out
}

func slicesReverse(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}

// notAPoint returns a 32-byte string that does not decode to a curve point.
func notAPoint(t testing.TB) PublicKey {
	for i := 2; i < 256; i++ {
		var pk PublicKey
		pk[0] = byte(i)
		if _, err := Expand(pk); err != nil {
			return pk
		}
	}
	t.Fatal("no invalid encoding found")
	return PublicKey{}
}

func TestEdgeCasesAgreeOnEveryPath(t *testing.T) {
	k := testKey(t, 1)
	msg := []byte("beacon")
	sig := k.SignBytes(msg)
	identityPoint := PublicKey{1} // encoding of the neutral element, small order
	identitySig := append(bytes.Clone(identityPoint[:]), make([]byte, 32)...)

	cases := []struct {
		name string
		e    signedEntry
		want bool
	}{
		{"valid", signedEntry{k.Public(), msg, sig}, true},
		{"S plus group order", signedEntry{k.Public(), msg, addOrderToS(sig)}, false},
		{"S high bit", signedEntry{k.Public(), msg, append(bytes.Clone(sig[:63]), sig[63]|0x80)}, false},
		{"other message", signedEntry{k.Public(), []byte("beacom"), sig}, false},
		{"other key", signedEntry{testKey(t, 2).Public(), msg, sig}, false},
		{"short signature", signedEntry{k.Public(), msg, sig[:63]}, false},
		{"long signature", signedEntry{k.Public(), msg, append(bytes.Clone(sig), 0)}, false},
		{"no signature", signedEntry{k.Public(), msg, nil}, false},
		{"zero signature", signedEntry{k.Public(), msg, make([]byte, 64)}, false},
		{"key not a point", signedEntry{notAPoint(t), msg, sig}, false},
		// ZIP-215 (like crypto/ed25519) accepts R = identity, S = 0 under
		// the identity key for any message: this is why registration calls
		// PublicKey.Check.
		{"small-order key forgery", signedEntry{identityPoint, msg, identitySig}, true},
	}
	pool := validEntries(t, poolSize)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := verdicts(t, pool, c.e); got != c.want {
				t.Fatalf("verdict %v, want %v", got, c.want)
			}
		})
	}
}

func TestBatchMixed(t *testing.T) {
	es := validEntries(t, 300)
	bad := map[int]bool{3: true, 100: true, 299: true}
	b := NewBatch(len(es))
	for i, e := range es {
		if bad[i] {
			e.msg = append(bytes.Clone(e.msg), '!')
		}
		b.Add(e.pk, e.msg, e.sig)
	}
	if b.Len() != len(es) {
		t.Fatalf("Len = %d", b.Len())
	}
	ok, valid := b.Verify()
	if ok {
		t.Fatal("batch with bad entries verified")
	}
	for i, v := range valid {
		if v == bad[i] {
			t.Fatalf("valid[%d] = %v", i, v)
		}
	}
}

func TestBatchAllValidAndEmpty(t *testing.T) {
	for _, n := range []int{1, 2, 64, 256} {
		b := NewBatch(n)
		for _, e := range validEntries(t, n) {
			b.Add(e.pk, e.msg, e.sig)
		}
		ok, valid := b.Verify()
		if !ok || len(valid) != n {
			t.Fatalf("batch of %d valid: ok %v, %d results", n, ok, len(valid))
		}
	}
	if ok, valid := NewBatch(0).Verify(); !ok || valid != nil {
		t.Fatalf("empty batch: %v %v", ok, valid)
	}
	if ok, _ := NewBatch(-1).Verify(); !ok {
		t.Fatal("NewBatch(-1) is not an empty batch")
	}
}

func TestBatchAddSigned(t *testing.T) {
	k := testKey(t, 1)
	good := samplePacketUp()
	if err := k.Sign(good); err != nil {
		t.Fatal(err)
	}
	tampered := samplePacketUp()
	if err := k.Sign(tampered); err != nil {
		t.Fatal(err)
	}
	tampered.Rssi = 0
	shortSigner := samplePacketUp()
	if err := k.Sign(shortSigner); err != nil {
		t.Fatal(err)
	}
	shortSigner.Signer = shortSigner.Signer[:31]
	beacon := sampleBeaconReport()
	if err := testKey(t, 2).Sign(beacon); err != nil {
		t.Fatal(err)
	}

	b := NewBatch(4)
	msgs := []Signed{good, tampered, shortSigner, beacon}
	wantErr := []bool{false, false, true, false}
	for i, m := range msgs {
		pk, err := b.AddSigned(m)
		if (err != nil) != wantErr[i] {
			t.Fatalf("AddSigned %d: err = %v", i, err)
		}
		if err == nil && !bytes.Equal(pk.Bytes(), m.GetSigner()) {
			t.Fatalf("AddSigned %d returned another key", i)
		}
	}
	if b.Len() != len(msgs) {
		t.Fatalf("Len = %d, want %d: an entry was skipped", b.Len(), len(msgs))
	}
	ok, valid := b.Verify()
	if want := []bool{true, false, false, true}; ok || fmt.Sprint(valid) != fmt.Sprint(want) {
		t.Fatalf("Verify = %v %v, want false %v", ok, valid, want)
	}
}

// Signing is RFC 8032: keys and signatures of crypto/ed25519 work here on
// every path, and ours verify under crypto/ed25519.
func TestStdlibInterop(t *testing.T) {
	r := rand.New(rand.NewChaCha8([32]byte{1}))
	pool := validEntries(t, poolSize)
	b := NewBatch(50)
	for i := range 50 {
		seed := make([]byte, SeedSize)
		for j := range seed {
			seed[j] = byte(r.Uint32())
		}
		std := stded25519.NewKeyFromSeed(seed)
		ours, err := FromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(std.Public().(stded25519.PublicKey), ours.Public().Bytes()) {
			t.Fatalf("key %d: public keys differ", i)
		}
		msg := fmt.Appendf(nil, "interop %d", i)
		stdSig := stded25519.Sign(std, msg)
		if !bytes.Equal(stdSig, ours.SignBytes(msg)) {
			t.Fatalf("key %d: signatures differ (ed25519 signing is deterministic)", i)
		}
		if !verdicts(t, pool, signedEntry{ours.Public(), msg, stdSig}) {
			t.Fatalf("key %d: crypto/ed25519 signature rejected", i)
		}
		if !stded25519.Verify(std.Public().(stded25519.PublicKey), msg, ours.SignBytes(msg)) {
			t.Fatalf("key %d: crypto/ed25519 rejects our signature", i)
		}
		b.Add(ours.Public(), msg, stdSig)
	}
	if ok, _ := b.Verify(); !ok {
		t.Fatal("batch of crypto/ed25519 signatures rejected")
	}
}

func TestExpandedKey(t *testing.T) {
	k := testKey(t, 3)
	ek, err := Expand(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	if ek.PublicKey() != k.Public() {
		t.Fatal("PublicKey differs")
	}
	m := sampleBeaconReport()
	if err := k.Sign(m); err != nil {
		t.Fatal(err)
	}
	if err := ek.VerifyMessage(m); err != nil {
		t.Fatal(err)
	}
	m.Frequency++
	if err := ek.VerifyMessage(m); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}
	if err := ek.VerifyMessage(&wire.Window{}); !errors.Is(err, ErrUnsignable) {
		t.Fatalf("unsignable: %v", err)
	}
	if _, err := Expand(notAPoint(t)); !errors.Is(err, ErrBadPublicKey) {
		t.Fatalf("Expand(not a point) = %v", err)
	}
}

func TestKeyCache(t *testing.T) {
	c := NewKeyCache(2)
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	a, err := c.Get(k1.Public())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Get(k1.Public()); again != a {
		t.Fatal("second Get expanded the key again")
	}
	if _, err := c.Get(k2.Public()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(k1.Public()); err != nil { // k1 most recent, k2 oldest
		t.Fatal(err)
	}
	if _, err := c.Get(k3.Public()); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
	if again, _ := c.Get(k1.Public()); again != a {
		t.Fatal("the most recently used key was evicted")
	}
	if _, err := c.Get(notAPoint(t)); !errors.Is(err, ErrBadPublicKey) {
		t.Fatalf("Get(not a point) = %v", err)
	}
	if c.Len() != 2 {
		t.Fatal("an invalid key was cached")
	}

	m := samplePacketUp()
	if err := k2.Sign(m); err != nil {
		t.Fatal(err)
	}
	if pk, err := c.VerifySigned(m); err != nil || pk != k2.Public() {
		t.Fatalf("VerifySigned = %v, %v", pk, err)
	}
	m.Tmst++
	if _, err := c.VerifySigned(m); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}
	m.Signer = notAPoint(t).Bytes()
	if _, err := c.VerifySigned(m); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("signer not a point: %v", err)
	}
	m.Signer = nil
	if _, err := c.VerifySigned(m); !errors.Is(err, ErrBadPublicKey) {
		t.Fatalf("no signer: %v", err)
	}
	if NewKeyCache(0).max != 1 {
		t.Fatal("NewKeyCache(0) does not hold one key")
	}
}

func TestPublicKeyCheck(t *testing.T) {
	for i := range 16 {
		if err := testKey(t, byte(i)).Public().Check(); err != nil {
			t.Fatalf("generated key %d: %v", i, err)
		}
	}
	if err := (PublicKey{1}).Check(); !errors.Is(err, ErrWeakKey) {
		t.Fatalf("identity point: %v", err)
	}
	if err := notAPoint(t).Check(); !errors.Is(err, ErrBadPublicKey) {
		t.Fatalf("not a point: %v", err)
	}
	// y = p (2^255 - 19) is a non-canonical encoding of y = 0.
	nonCanonical := PublicKey{0xed}
	for i := 1; i < 31; i++ {
		nonCanonical[i] = 0xff
	}
	nonCanonical[31] = 0x7f
	if err := nonCanonical.Check(); !errors.Is(err, ErrWeakKey) {
		t.Fatalf("non-canonical: %v", err)
	}
	// Every public key in the ZIP-215 vectors is small order or non-canonical.
	for i, v := range zip215Vectors(t) {
		if err := v.pk.Check(); err == nil {
			t.Fatalf("ZIP-215 vector %d key passes Check", i)
		}
	}
}
