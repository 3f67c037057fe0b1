package beacon

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
)

func TestSeedLayout(t *testing.T) {
	ent := bytes.Repeat([]byte{7}, 32)
	local := []byte{1, 2, 3, 4}
	var buf []byte
	buf = append(buf, ent...)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(1700000000))
	buf = append(buf, local...)
	buf = binary.LittleEndian.AppendUint64(buf, 0)
	if Seed(ent, 1700000000, local) != sha256.Sum256(buf) {
		t.Fatal("seed is not SHA-256(entropy ‖ ts LE ‖ local ‖ 0 LE)")
	}
}

func TestBuildDeterministicPerRegion(t *testing.T) {
	ent := bytes.Repeat([]byte{9}, 32)
	cases := []struct {
		region wire.Region
		dr     string
		gain   int32
		power  int32
	}{
		{wire.Region_EU868, "SF12BW125", 30, 13}, // 16 dBm EIRP − 3.0 dBi
		{wire.Region_US915, "SF9BW125", 45, 25},  // 30 dBm − 4.5 dBi, truncated
		{wire.Region_AS923_1, "SF9BW125", 0, 16}, // dwell time: DR2 holds 19 bytes, DR3 (SF9) 61
	}
	for _, c := range cases {
		reg, err := lorawan.RegionByID(c.region)
		if err != nil {
			t.Fatal(err)
		}
		if reg.MaxEIRP-float64(c.gain)/10 < float64(c.power) || reg.MaxEIRP-float64(c.gain)/10 >= float64(c.power+1) {
			t.Fatalf("%s: test power %d does not match max EIRP %v", reg.Name, c.power, reg.MaxEIRP)
		}
		for i := 0; i < 50; i++ {
			local := []byte{byte(i), 1, 2, 3}
			a, err := Build(ent, int64(1700000000+i), local, c.region, c.gain)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := Build(ent, int64(1700000000+i), local, c.region, c.gain)
			if !bytes.Equal(a.Payload, b.Payload) || a.Frequency != b.Frequency {
				t.Fatal("beacon not deterministic")
			}
			if len(a.Payload) != PayloadSize || len(a.Frame()) != FrameSize || a.Frame()[0] != MHDR {
				t.Fatalf("sizes: payload %d frame %d", len(a.Payload), len(a.Frame()))
			}
			chs := reg.BeaconChannels()
			want := chs[int(binary.LittleEndian.Uint16(a.Payload[:2]))%len(chs)].Frequency
			if a.Frequency != want {
				t.Fatalf("%s: frequency %d, want %d", reg.Name, a.Frequency, want)
			}
			if a.DataRate != c.dr {
				t.Fatalf("%s: data rate %s, want %s", reg.Name, a.DataRate, c.dr)
			}
			if a.TxPowerDBm != c.power {
				t.Fatalf("%s: power %d, want %d", reg.Name, a.TxPowerDBm, c.power)
			}
			p, err := PayloadFromFrame(a.Frame())
			if err != nil || !bytes.Equal(p, a.Payload) {
				t.Fatal("frame does not round-trip")
			}
		}
	}
	// Different local bytes give different payloads.
	a, _ := Build(ent, 1, []byte{0, 0, 0, 0}, wire.Region_EU868, 0)
	b, _ := Build(ent, 1, []byte{0, 0, 0, 1}, wire.Region_EU868, 0)
	if bytes.Equal(a.Payload, b.Payload) {
		t.Fatal("local entropy ignored")
	}
}

func TestBuildRejects(t *testing.T) {
	ent := bytes.Repeat([]byte{9}, 32)
	if _, err := Build(ent, 1, []byte{1, 2, 3}, wire.Region_EU868, 0); !errors.Is(err, ErrBadInput) {
		t.Fatalf("short local: %v", err)
	}
	if _, err := Build(nil, 1, []byte{1, 2, 3, 4}, wire.Region_EU868, 0); !errors.Is(err, ErrBadInput) {
		t.Fatalf("no entropy: %v", err)
	}
	if _, err := Build(ent, 1, []byte{1, 2, 3, 4}, wire.Region_REGION_UNKNOWN, 0); err == nil {
		t.Fatal("unknown region accepted")
	}
	for _, f := range [][]byte{nil, make([]byte, FrameSize), append([]byte{MHDR}, make([]byte, PayloadSize+1)...), {0x40, 1, 2}} {
		if _, err := PayloadFromFrame(f); !errors.Is(err, ErrNotBeacon) {
			t.Fatalf("frame %x taken as beacon", f)
		}
	}
}
