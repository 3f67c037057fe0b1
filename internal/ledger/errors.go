package ledger

import "errors"

// Sentinel errors. Every refused operation wraps exactly one of these and
// leaves the ledger unchanged.
var (
	ErrMalformed            = errors.New("ledger: malformed operation")
	ErrBadSignature         = errors.New("ledger: bad signature")
	ErrWrongSigner          = errors.New("ledger: wrong signer")
	ErrNonce                = errors.New("ledger: nonce not above the account's last nonce")
	ErrInsufficientFunds    = errors.New("ledger: insufficient funds")
	ErrBadAmount            = errors.New("ledger: bad amount")
	ErrOverflow             = errors.New("ledger: amount overflows")
	ErrUnknownAccount       = errors.New("ledger: unknown account")
	ErrUnknownMaker         = errors.New("ledger: unknown or revoked maker")
	ErrMakerExists          = errors.New("ledger: maker already registered")
	ErrUnknownHotspot       = errors.New("ledger: unknown hotspot")
	ErrAlreadyOnboarded     = errors.New("ledger: hotspot already onboarded")
	ErrGainOutOfBounds      = errors.New("ledger: antenna gain out of bounds")
	ErrElevationOutOfBounds = errors.New("ledger: elevation out of bounds")
	ErrInvalidCell          = errors.New("ledger: invalid H3 cell")
	ErrUnknownOUI           = errors.New("ledger: unknown OUI")
	ErrRangeOutsidePool     = errors.New("ledger: DevAddr range outside the NetID pool")
	ErrRangeOverlap         = errors.New("ledger: DevAddr range overlaps another")
	ErrPoolExhausted        = errors.New("ledger: DevAddr pool exhausted")
	ErrBadDestination       = errors.New("ledger: bad destination")
	ErrBadMaxCopies         = errors.New("ledger: max_copies out of bounds")
	ErrTooManyEUIs          = errors.New("ledger: too many EUI pairs")
	ErrNotSubmittable       = errors.New("ledger: operation is written by the ledger only")
	ErrEpochClosed          = errors.New("ledger: epoch already closed")
	ErrFutureEpoch          = errors.New("ledger: epoch has not started")
	ErrBadUnits             = errors.New("ledger: bad reward units")
	ErrUnknownEpoch         = errors.New("ledger: unknown epoch")
	ErrNotInManifest        = errors.New("ledger: address not in the epoch's manifest")
	ErrCorruptJournal       = errors.New("ledger: corrupt journal")
	ErrClosed               = errors.New("ledger: closed")
)
