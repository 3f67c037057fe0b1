package merkle

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
)

func entries(n int) []*ledgerpb.ManifestEntry {
	out := make([]*ledgerpb.ManifestEntry, n)
	for i := range out {
		out[i] = &ledgerpb.ManifestEntry{Account: []byte{byte(i >> 8), byte(i)}, Beacon: uint64(i + 1)}
	}
	return out
}

func signedRoot(t *testing.T, k *identity.Key, tr *Tree) *ledgerpb.EpochRoot {
	t.Helper()
	r := &ledgerpb.EpochRoot{Epoch: 7, Root: tr.Root(), Entries: uint64(tr.Len())}
	if err := k.Sign(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEmptyAndSingle(t *testing.T) {
	tr := Build(nil)
	if got := hex.EncodeToString(tr.Root()); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || len(got) != 64 {
		t.Fatalf("empty root %s", got)
	}
	l := Leaf([]byte("x"))
	if tr := Build([][HashSize]byte{l}); !bytes.Equal(tr.Root(), l[:]) {
		t.Fatal("single leaf root is not the leaf")
	}
	a, b, c := Leaf([]byte("a")), Leaf([]byte("b")), Leaf([]byte("c"))
	want := Node(Node(a, b), c) // c promoted
	if got := Build([][HashSize]byte{a, b, c}).Root(); !bytes.Equal(got, want[:]) {
		t.Fatal("three-leaf root differs from the documented definition")
	}
}

func TestProofsAllSizes(t *testing.T) {
	k, _ := identity.FromSeed(bytes.Repeat([]byte{1}, 32))
	other, _ := identity.FromSeed(bytes.Repeat([]byte{2}, 32))
	for n := 1; n <= 33; n++ {
		es := entries(n)
		tr, err := BuildEntries(es)
		if err != nil {
			t.Fatal(err)
		}
		root := signedRoot(t, k, tr)
		for i := range es {
			path, err := tr.Path(i)
			if err != nil {
				t.Fatal(err)
			}
			p := &ledgerpb.RewardProof{Entry: es[i], Index: uint64(i), Count: uint64(n), Siblings: path, Root: root}
			if err := VerifyProof(es[i], p, root, k.Public()); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if err := VerifyProof(es[i], p, root, other.Public()); !errors.Is(err, ErrBadRootSignature) {
				t.Fatalf("wrong oracle accepted: %v", err)
			}
			forged := &ledgerpb.ManifestEntry{Account: es[i].Account, Beacon: es[i].Beacon + 1}
			p2 := &ledgerpb.RewardProof{Index: uint64(i), Count: uint64(n), Siblings: path}
			if err := VerifyProof(forged, p2, root, k.Public()); !errors.Is(err, ErrBadProof) {
				t.Fatalf("forged entry accepted: %v", err)
			}
			if n > 1 {
				p3 := &ledgerpb.RewardProof{Index: uint64((i + 1) % n), Count: uint64(n), Siblings: path}
				if err := VerifyProof(es[i], p3, root, k.Public()); err == nil {
					t.Fatalf("n=%d i=%d: wrong index accepted", n, i)
				}
				p4 := &ledgerpb.RewardProof{Index: uint64(i), Count: uint64(n), Siblings: path[:len(path)-1]}
				if err := VerifyProof(es[i], p4, root, k.Public()); err == nil {
					t.Fatal("short path accepted")
				}
			}
		}
	}
}

func TestMalformedProofs(t *testing.T) {
	k, _ := identity.FromSeed(bytes.Repeat([]byte{1}, 32))
	tr, _ := BuildEntries(entries(4))
	root := signedRoot(t, k, tr)
	e := entries(4)[0]
	cases := []*ledgerpb.RewardProof{
		{Index: 0, Count: 0},
		{Index: 5, Count: 4},
		{Index: 0, Count: 4, Siblings: [][]byte{{1, 2}, make([]byte, 32)}},
		{Index: 0, Count: 4, Siblings: [][]byte{make([]byte, 32), make([]byte, 32), make([]byte, 32)}},
	}
	for i, p := range cases {
		if err := VerifyProof(e, p, root, k.Public()); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	if err := VerifyProof(nil, nil, root, k.Public()); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil accepted: %v", err)
	}
	if err := VerifyRoot(nil, k.Public()); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil root: %v", err)
	}
	if _, err := tr.Path(4); !errors.Is(err, ErrMalformed) {
		t.Errorf("path out of range: %v", err)
	}
}
