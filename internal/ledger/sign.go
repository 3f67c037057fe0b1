package ledger

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
)

// Wrap puts an operation message into the Op envelope. It returns an error
// for a message that is not a ledger operation.
func Wrap(m proto.Message) (*ledgerpb.Op, error) {
	op := &ledgerpb.Op{}
	switch b := m.(type) {
	case *ledgerpb.RegisterMaker:
		op.Body = &ledgerpb.Op_RegisterMaker{RegisterMaker: b}
	case *ledgerpb.RevokeMaker:
		op.Body = &ledgerpb.Op_RevokeMaker{RevokeMaker: b}
	case *ledgerpb.OnboardHotspot:
		op.Body = &ledgerpb.Op_OnboardHotspot{OnboardHotspot: b}
	case *ledgerpb.AssertLocation:
		op.Body = &ledgerpb.Op_AssertLocation{AssertLocation: b}
	case *ledgerpb.TransferHotspot:
		op.Body = &ledgerpb.Op_TransferHotspot{TransferHotspot: b}
	case *ledgerpb.TransferTokens:
		op.Body = &ledgerpb.Op_TransferTokens{TransferTokens: b}
	case *ledgerpb.BurnForDC:
		op.Body = &ledgerpb.Op_BurnForDc{BurnForDc: b}
	case *ledgerpb.DelegateDC:
		op.Body = &ledgerpb.Op_DelegateDc{DelegateDc: b}
	case *ledgerpb.CreateOUI:
		op.Body = &ledgerpb.Op_CreateOui{CreateOui: b}
	case *ledgerpb.UpdateOUI:
		op.Body = &ledgerpb.Op_UpdateOui{UpdateOui: b}
	default:
		return nil, fmt.Errorf("%w: %T is not a submittable operation", ErrMalformed, m)
	}
	return op, nil
}

// SignOp signs a single-signer operation message with k (setting signer and
// signature) and returns the encoded Op ready for Submit.
func SignOp(k *identity.Key, m identity.Signed) ([]byte, error) {
	if err := k.Sign(m); err != nil {
		return nil, err
	}
	op, err := Wrap(m)
	if err != nil {
		return nil, err
	}
	return EncodeOp(op)
}

// EncodeOp returns the deterministic encoding of op.
func EncodeOp(op *ledgerpb.Op) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(op)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, nil
}

// SignOnboardOwner adds the owner's signature to an onboarding; the owner key
// must be op.Owner.
func SignOnboardOwner(op *ledgerpb.OnboardHotspot, owner *identity.Key) error {
	b, err := OnboardSigningBytes(op)
	if err != nil {
		return err
	}
	op.OwnerSignature = owner.SignBytes(b)
	return nil
}

// SignOnboardMaker adds the maker's signature to an onboarding; the maker key
// must be op.Maker.
func SignOnboardMaker(op *ledgerpb.OnboardHotspot, maker *identity.Key) error {
	b, err := OnboardSigningBytes(op)
	if err != nil {
		return err
	}
	op.MakerSignature = maker.SignBytes(b)
	return nil
}

// OnboardOp builds the encoded, fully signed onboarding operation of a
// hotspot by its owner and maker (for programs that hold both keys, such
// as the devnet and tests; hosts and makers use the CLI's two-step flow).
func OnboardOp(hotspot identity.PublicKey, owner, maker *identity.Key, nonce uint64) ([]byte, error) {
	op := &ledgerpb.OnboardHotspot{Hotspot: hotspot.Bytes(), Owner: owner.Public().Bytes(), Maker: maker.Public().Bytes(), Nonce: nonce}
	if err := SignOnboardOwner(op, owner); err != nil {
		return nil, err
	}
	if err := SignOnboardMaker(op, maker); err != nil {
		return nil, err
	}
	return EncodeOp(&ledgerpb.Op{Body: &ledgerpb.Op_OnboardHotspot{OnboardHotspot: op}})
}
