package ledger

import (
	"testing"
)

// FuzzDecodeOp feeds arbitrary bytes to the operation decoder and, when they
// decode, to a live ledger: neither may panic, and a refusal must carry a sentinel.
func FuzzDecodeOp(f *testing.F) {
	n := newNet(f)
	n.setup(1)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := DecodeOp(b)
		if err != nil {
			if !errIs(err, ErrMalformed, ErrNotSubmittable) {
				t.Fatalf("decoder error without a sentinel: %v", err)
			}
			return
		}
		if _, err := n.l.SubmitOp(op); err != nil && !errIs(err,
			ErrMalformed, ErrBadSignature, ErrWrongSigner, ErrNonce, ErrInsufficientFunds, ErrBadAmount, ErrOverflow,
			ErrUnknownAccount, ErrUnknownMaker, ErrMakerExists, ErrUnknownHotspot, ErrAlreadyOnboarded, ErrGainOutOfBounds,
			ErrElevationOutOfBounds, ErrInvalidCell, ErrUnknownOUI, ErrRangeOutsidePool, ErrRangeOverlap, ErrPoolExhausted,
			ErrBadDestination, ErrBadMaxCopies, ErrTooManyEUIs, ErrNotSubmittable) {
			t.Fatalf("refusal without a sentinel: %v", err)
		}
	})
}
