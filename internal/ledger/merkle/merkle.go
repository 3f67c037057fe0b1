// Package merkle builds and checks the SHA-256 Merkle trees that commit an
// epoch's reward manifest, and verifies a reward proof without trusting the
// server that produced it.
//
// Tree definition:
//
//	leaf  = SHA-256(0x00 ‖ deterministic protobuf encoding of the ManifestEntry)
//	node  = SHA-256(0x01 ‖ left ‖ right)
//
// Leaves are in manifest order. Each level pairs neighbours left to right; an
// odd node at the end of a level is promoted unchanged to the next level. The
// root of one leaf is that leaf; the root of no leaves (an empty epoch) is
// SHA-256 of the empty string, e3b0c442…b855. A proof is the list of sibling
// hashes from the leaf upwards, skipping levels where the node is promoted;
// with the leaf's index and the leaf count the verifier knows which.
package merkle

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
)

// HashSize is the length of every hash in the tree.
const HashSize = sha256.Size

// Sentinel errors returned by this package.
var (
	// ErrBadProof is returned when a proof does not lead to the signed root.
	ErrBadProof = errors.New("merkle: proof does not match root")
	// ErrBadRootSignature is returned when the root is not signed by the oracle key.
	ErrBadRootSignature = errors.New("merkle: root not signed by the oracle")
	// ErrMalformed is returned for a structurally invalid proof.
	ErrMalformed = errors.New("merkle: malformed proof")
)

// EmptyRoot returns the root of a tree without leaves: SHA-256 of nothing.
func EmptyRoot() []byte {
	h := sha256.Sum256(nil)
	return h[:]
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// EncodeEntry returns the deterministic encoding of e that its leaf hashes.
func EncodeEntry(e *ledgerpb.ManifestEntry) ([]byte, error) {
	b, err := deterministic.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("merkle: encode entry: %w", err)
	}
	return b, nil
}

// Leaf returns SHA-256(0x00 ‖ enc).
func Leaf(enc []byte) [HashSize]byte {
	h := sha256.New()
	h.Write([]byte{0x00})
	h.Write(enc)
	var out [HashSize]byte
	h.Sum(out[:0])
	return out
}

// Node returns SHA-256(0x01 ‖ left ‖ right).
func Node(left, right [HashSize]byte) [HashSize]byte {
	var buf [1 + 2*HashSize]byte
	buf[0] = 0x01
	copy(buf[1:], left[:])
	copy(buf[1+HashSize:], right[:])
	return sha256.Sum256(buf[:])
}

// Tree is a built Merkle tree; levels[0] are the leaves, the last level the root.
type Tree struct {
	levels [][][HashSize]byte
}

// Build builds the tree over the given leaf hashes (it keeps the slice).
func Build(leaves [][HashSize]byte) *Tree {
	t := &Tree{levels: [][][HashSize]byte{leaves}}
	for cur := leaves; len(cur) > 1; {
		next := make([][HashSize]byte, (len(cur)+1)/2)
		for i := 0; i+1 < len(cur); i += 2 {
			next[i/2] = Node(cur[i], cur[i+1])
		}
		if len(cur)%2 == 1 {
			next[len(next)-1] = cur[len(cur)-1]
		}
		t.levels = append(t.levels, next)
		cur = next
	}
	return t
}

// BuildEntries encodes and hashes entries and builds their tree.
func BuildEntries(entries []*ledgerpb.ManifestEntry) (*Tree, error) {
	leaves := make([][HashSize]byte, len(entries))
	for i, e := range entries {
		enc, err := EncodeEntry(e)
		if err != nil {
			return nil, err
		}
		leaves[i] = Leaf(enc)
	}
	return Build(leaves), nil
}

// Len returns the number of leaves.
func (t *Tree) Len() int { return len(t.levels[0]) }

// Root returns the root hash (EmptyRoot for no leaves).
func (t *Tree) Root() []byte {
	if t.Len() == 0 {
		return EmptyRoot()
	}
	r := t.levels[len(t.levels)-1][0]
	return r[:]
}

// Path returns the sibling hashes of leaf i from the bottom up.
func (t *Tree) Path(i int) ([][]byte, error) {
	if i < 0 || i >= t.Len() {
		return nil, fmt.Errorf("%w: index %d of %d leaves", ErrMalformed, i, t.Len())
	}
	var path [][]byte
	for _, level := range t.levels[:len(t.levels)-1] {
		sib := i ^ 1
		if sib < len(level) {
			h := level[sib]
			path = append(path, h[:])
		}
		i /= 2
	}
	return path, nil
}

// RootFromPath recomputes the root from a leaf hash, its index, the leaf count and its path.
func RootFromPath(leaf [HashSize]byte, index, count uint64, path [][]byte) ([]byte, error) {
	if count == 0 || index >= count {
		return nil, fmt.Errorf("%w: index %d of %d leaves", ErrMalformed, index, count)
	}
	cur := leaf
	used := 0
	for n := count; n > 1; n = (n + 1) / 2 {
		sib := index ^ 1
		if sib < n {
			if used >= len(path) {
				return nil, fmt.Errorf("%w: path too short", ErrMalformed)
			}
			if len(path[used]) != HashSize {
				return nil, fmt.Errorf("%w: sibling of %d bytes", ErrMalformed, len(path[used]))
			}
			var s [HashSize]byte
			copy(s[:], path[used])
			used++
			if index%2 == 0 {
				cur = Node(cur, s)
			} else {
				cur = Node(s, cur)
			}
		}
		index /= 2
	}
	if used != len(path) {
		return nil, fmt.Errorf("%w: path too long", ErrMalformed)
	}
	return cur[:], nil
}

// VerifyRoot checks that root is signed by oracle.
func VerifyRoot(root *ledgerpb.EpochRoot, oracle identity.PublicKey) error {
	if root == nil {
		return fmt.Errorf("%w: no root", ErrMalformed)
	}
	if !bytes.Equal(root.GetSigner(), oracle[:]) {
		return fmt.Errorf("%w: signer is not the oracle", ErrBadRootSignature)
	}
	if err := identity.Verify(root, oracle); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRootSignature, err)
	}
	if len(root.GetRoot()) != HashSize {
		return fmt.Errorf("%w: root of %d bytes", ErrMalformed, len(root.GetRoot()))
	}
	return nil
}

// VerifyProof checks, without trusting anyone but the oracle key, that entry
// is in the manifest committed by root: root is signed by oracle, proof is for
// entry and for root, and the path leads from entry's leaf to root.
func VerifyProof(entry *ledgerpb.ManifestEntry, proof *ledgerpb.RewardProof, root *ledgerpb.EpochRoot, oracle identity.PublicKey) error {
	if entry == nil || proof == nil {
		return fmt.Errorf("%w: missing entry or proof", ErrMalformed)
	}
	if err := VerifyRoot(root, oracle); err != nil {
		return err
	}
	if proof.GetEntry() != nil && !proto.Equal(proof.GetEntry(), entry) {
		return fmt.Errorf("%w: proof is for another entry", ErrBadProof)
	}
	if proof.GetRoot() != nil && !proto.Equal(proof.GetRoot(), root) {
		return fmt.Errorf("%w: proof is for another root", ErrBadProof)
	}
	if proof.GetCount() != root.GetEntries() {
		return fmt.Errorf("%w: proof counts %d leaves, root %d", ErrBadProof, proof.GetCount(), root.GetEntries())
	}
	enc, err := EncodeEntry(entry)
	if err != nil {
		return err
	}
	got, err := RootFromPath(Leaf(enc), proof.GetIndex(), proof.GetCount(), proof.GetSiblings())
	if err != nil {
		return err
	}
	if !bytes.Equal(got, root.GetRoot()) {
		return ErrBadProof
	}
	return nil
}
