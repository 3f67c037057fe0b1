package merkle

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
)

// FuzzVerifyProof decodes hostile proof bytes (as a client receives them
// from a server it does not trust) and verifies them: it must never panic,
// and must accept only the genuine proofs.
func FuzzVerifyProof(f *testing.F) {
	k, _ := identity.FromSeed(bytes.Repeat([]byte{1}, 32))
	es := entries(5)
	tr, _ := BuildEntries(es)
	root := &ledgerpb.EpochRoot{Epoch: 7, Root: tr.Root(), Entries: 5}
	if err := k.Sign(root); err != nil {
		f.Fatal(err)
	}
	genuine := map[string]bool{}
	for i := range es {
		path, _ := tr.Path(i)
		b, _ := proto.Marshal(&ledgerpb.RewardProof{Entry: es[i], Index: uint64(i), Count: 5, Siblings: path, Root: root})
		f.Add(b)
		enc, _ := EncodeEntry(es[i])
		genuine[string(enc)] = true
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := &ledgerpb.RewardProof{}
		if proto.Unmarshal(b, p) != nil {
			return
		}
		if err := VerifyProof(p.GetEntry(), p, root, k.Public()); err == nil {
			enc, _ := EncodeEntry(p.GetEntry())
			if !genuine[string(enc)] {
				t.Fatalf("forged entry accepted: %v", p.GetEntry())
			}
		}
	})
}
