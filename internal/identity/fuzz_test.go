package identity

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseAddress: any text is refused with ErrBadAddress or parses to a key
// whose address is exactly that text (one address per key).
func FuzzParseAddress(f *testing.F) {
	f.Add(string(testKey(f, 1).Address()))
	f.Add("")
	f.Add("1")
	f.Add("0OIl")
	f.Fuzz(func(t *testing.T, s string) {
		pk, err := ParseAddress(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("error %v is not ErrBadAddress", err)
			}
			return
		}
		if got := string(AddressOf(pk)); got != s {
			t.Fatalf("ParseAddress(%q) accepted a non-canonical form of %q", s, got)
		}
	})
}

// FuzzDecodeKeyFile: any content is refused with ErrBadKeyFile or decodes to
// a key whose canonical file is that content up to its line ending.
func FuzzDecodeKeyFile(f *testing.F) {
	f.Add(EncodeKeyFile(testKey(f, 1)))
	f.Add([]byte(KeyFilePrefix))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodeKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrBadKeyFile) {
				t.Fatalf("error %v is not ErrBadKeyFile", err)
			}
			return
		}
		want := EncodeKeyFile(k)
		trimmed := bytes.TrimSuffix(bytes.TrimSuffix(want, []byte("\n")), []byte("\r"))
		if !bytes.Equal(b, want) && !bytes.Equal(b, trimmed) && !bytes.Equal(b, append(bytes.Clone(trimmed), '\r', '\n')) {
			t.Fatalf("DecodeKeyFile accepted %q, canonical %q", b, want)
		}
	})
}

// FuzzVerify: for any key, message and signature, single, expanded-key and
// batch verification give the same verdict, and none panics.
func FuzzVerify(f *testing.F) {
	k := testKey(f, 1)
	msg := []byte("hexnet")
	sig := k.SignBytes(msg)
	f.Add(k.Public().Bytes(), msg, sig)
	f.Add(k.Public().Bytes(), msg, addOrderToS(sig))
	f.Add(append([]byte{1}, make([]byte, 31)...), msg, append(append([]byte{1}, make([]byte, 31)...), make([]byte, 32)...))
	for i, v := range zip215Vectors(f) {
		if i%16 == 0 {
			f.Add(v.pk.Bytes(), v.msg, v.sig)
		}
	}
	good := validEntries(f, 3)
	f.Fuzz(func(t *testing.T, pkb, msg, sig []byte) {
		if len(pkb) != PublicKeySize {
			return
		}
		pk := PublicKey(pkb)
		single := pk.Verify(msg, sig)
		if ek, err := Expand(pk); err == nil {
			if ek.Verify(msg, sig) != single {
				t.Fatal("expanded and single verification disagree")
			}
		} else if single {
			t.Fatal("signature verified under a key that does not expand")
		}
		b := NewBatch(4)
		b.Add(good[0].pk, good[0].msg, good[0].sig)
		b.Add(pk, msg, sig)
		b.Add(good[1].pk, good[1].msg, good[1].sig)
		ok, valid := b.Verify()
		if ok != single || !valid[0] || valid[1] != single || !valid[2] {
			t.Fatalf("batch %v %v, single %v", ok, valid, single)
		}
	})
}
