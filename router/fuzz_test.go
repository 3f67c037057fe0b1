package router

import (
	"testing"

	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/routes"
)

// FuzzProcess feeds arbitrary messages through the whole pipeline: it must
// never panic, and whatever it decides is either a named reason or a purchase.
func FuzzProcess(f *testing.F) {
	f.Add(0, []byte{})
	f.Add(3, []byte{0x0a, 0x02, 0x40, 0x01})
	e := newEnv(f, Config{}, nil)
	if err := e.routes.Put(fuzzRoute()); err != nil {
		f.Fatal(err)
	}
	_ = e.dc.Credit("payer", 10)
	f.Fuzz(func(t *testing.T, p int, payload []byte) {
		if p < 0 {
			p = -p
		}
		o := e.r.Process(wire.UpTopic(p%wire.Partitions), payload)
		if o.Reason == "" && o.Bought == 0 {
			t.Fatal("neither reason nor purchase")
		}
		// A fuzzer cannot forge a hotspot signature.
		if o.Bought > 0 {
			t.Fatal("unsigned input bought")
		}
	})
}

func fuzzRoute() routes.Route {
	return routes.Route{ID: "r", Payer: "payer", MaxCopies: 2, Active: true,
		DevAddrRanges: []routes.DevAddrRange{{Start: 0, End: 0xffffffff}},
		EUIs:          []routes.EUIPair{{JoinEUI: 0x42, DevEUI: 0}},
		Destinations:  []routes.Destination{{Protocol: routes.ProtocolGWMP, Address: "lns:1700"}}}
}
