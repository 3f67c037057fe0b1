package verify

import (
	"github.com/hexnet/hexnet/internal/beacon"
	"github.com/hexnet/hexnet/internal/wire"
)

// BeaconBuilder is the production Builder: internal/beacon.Build, the same
// code the hotspot agent transmits with.
func BeaconBuilder(entropy []byte, entropyTimestamp int64, local []byte, region wire.Region, gainDBiX10 int32) (Expected, error) {
	b, err := beacon.Build(entropy, entropyTimestamp, local, region, gainDBiX10)
	if err != nil {
		return Expected{}, err
	}
	return Expected{Payload: b.Payload, Frequency: b.Frequency, DataRate: b.DataRate, TxPowerDBm: b.TxPowerDBm}, nil
}
