package verify

import (
	"errors"
	"fmt"
	"math"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc"
)

// Field sizes of PoC reports.
const (
	EntropySize      = 32 // Entropy.data
	LocalEntropySize = 4  // BeaconReport.local_entropy
	PayloadSize      = 51 // beacon payload
	maxDataRateLen   = 16
)

// ErrRejected wraps every decoding rejection; the Reason says which.
var ErrRejected = errors.New("verify: report rejected")

// Report is a decoded PoC report whose fields are in range; its signature is
// not checked yet.
type Report struct {
	Beacon  *wire.BeaconReport  // exactly one of Beacon and Witness is set
	Witness *wire.WitnessReport //
	Signer  identity.PublicKey
}

// Data is the beacon payload the report is about: the join key of a beacon
// and its witnesses.
func (r Report) Data() []byte {
	if r.Beacon != nil {
		return r.Beacon.GetData()
	}
	return r.Witness.GetData()
}

// Signed returns the signed message inside the report.
func (r Report) Signed() identity.Signed {
	if r.Beacon != nil {
		return r.Beacon
	}
	return r.Witness
}

func reject(reason poc.Reason, f string, a ...any) (Report, poc.Reason, error) {
	return Report{}, reason, fmt.Errorf("%w: %s: %s", ErrRejected, reason, fmt.Sprintf(f, a...))
}

// Decode turns the bytes of a wire.PocReport into a Report and checks every
// field's size and range. A rejection returns its reason (oversize,
// malformed, invalid_pubkey, invalid_region) and an error wrapping
// ErrRejected; it never panics.
func Decode(b []byte) (Report, poc.Reason, error) {
	if len(b) > wire.MaxMessageSize {
		return reject(poc.ReasonOversize, "%d bytes", len(b))
	}
	var env wire.PocReport
	if err := wire.Unmarshal(b, &env); err != nil {
		return reject(poc.ReasonMalformed, "%v", err)
	}
	var signer, sig []byte
	var region wire.Region
	out := Report{}
	switch {
	case env.GetBeacon() != nil:
		r := env.GetBeacon()
		switch {
		case len(r.GetEntropy()) != EntropySize:
			return reject(poc.ReasonMalformed, "entropy length %d", len(r.GetEntropy()))
		case len(r.GetLocalEntropy()) != LocalEntropySize:
			return reject(poc.ReasonMalformed, "local entropy length %d", len(r.GetLocalEntropy()))
		case len(r.GetData()) != PayloadSize:
			return reject(poc.ReasonMalformed, "data length %d", len(r.GetData()))
		case r.GetFrequency() == 0 || len(r.GetDataRate()) == 0 || len(r.GetDataRate()) > maxDataRateLen:
			return reject(poc.ReasonMalformed, "frequency %d / data rate %q", r.GetFrequency(), r.GetDataRate())
		}
		out.Beacon, signer, sig, region = r, r.GetSigner(), r.GetSignature(), r.GetRegion()
	case env.GetWitness() != nil:
		r := env.GetWitness()
		switch {
		case len(r.GetData()) != PayloadSize:
			return reject(poc.ReasonMalformed, "data length %d", len(r.GetData()))
		case r.GetFrequency() == 0 || len(r.GetDataRate()) > maxDataRateLen:
			return reject(poc.ReasonMalformed, "frequency %d / data rate %q", r.GetFrequency(), r.GetDataRate())
		case !finite(r.GetRssi()) || !finite(r.GetSnr()):
			return reject(poc.ReasonMalformed, "rssi %v snr %v", r.GetRssi(), r.GetSnr())
		}
		out.Witness, signer, sig, region = r, r.GetSigner(), r.GetSignature(), r.GetRegion()
	default:
		return reject(poc.ReasonMalformed, "neither beacon nor witness")
	}
	if _, ok := wire.Region_name[int32(region)]; !ok || region == wire.Region_REGION_UNKNOWN {
		return reject(poc.ReasonInvalidRegion, "region %d", region)
	}
	if len(sig) != identity.SignatureSize {
		return reject(poc.ReasonBadSignature, "signature length %d", len(sig))
	}
	pk, err := identity.PublicKeyFromBytes(signer)
	if err != nil {
		return reject(poc.ReasonInvalidPubkey, "%v", err)
	}
	out.Signer = pk
	return out, poc.ReasonNone, nil
}

func finite(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }
