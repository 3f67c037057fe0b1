package gwmp

import (
	"testing"
	"time"
)

// Datagram bodies taken from the examples of PROTOCOL.TXT (whitespace
// removed). The first rxpk of the spec's own example is not valid base64
// ("-DS4…"), so it is kept apart.
const (
	specRxpkBadBase64 = `{"time":"2013-03-31T16:21:17.528002Z","tmst":3512348611,"chan":2,"rfch":0,"freq":866.349812,"stat":1,"modu":"LORA","datr":"SF7BW125","codr":"4/6","rssi":-35,"lsnr":5.1,"size":32,"data":"-DS4CGaDCdG+48eJNM3Vai-zDpsR71Pn9CPA9uCON84"}`
	specRxpkFSK       = `{"time":"2013-03-31T16:21:17.530974Z","tmst":3512348514,"chan":9,"rfch":1,"freq":869.1,"stat":1,"modu":"FSK","datr":50000,"rssi":-75,"size":16,"data":"VEVTVF9QQUNLRVRfMTIzNA=="}`
	specRxpkLoRa      = `{"time":"2013-03-31T16:21:17.532038Z","tmst":3316387610,"chan":0,"rfch":0,"freq":863.00981,"stat":1,"modu":"LORA","datr":"SF10BW125","codr":"4/7","rssi":-38,"lsnr":5.5,"size":32,"data":"ysgRl452xNLep9S1NTIg2lomKDxUgn3DJ7DE+b00Ass"}`
	specStat          = `{"time":"2014-01-12 08:59:28 GMT","lati":46.24000,"long":3.25230,"alti":145,"rxnb":2,"rxok":2,"rxfw":2,"ackr":100.0,"dwnb":2,"txnb":2}`
	specTxpkLoRa      = `{"txpk":{"imme":true,"freq":864.123456,"rfch":0,"powe":14,"modu":"LORA","datr":"SF11BW125","codr":"4/6","ipol":false,"size":32,"data":"H3P3N2i9qc4yt7rK7ldqoeCVJGBybzPY5h1Dd7P7p8v"}}`
	specTxpkFSK       = `{"txpk":{"imme":true,"freq":861.3,"rfch":0,"powe":12,"modu":"FSK","datr":50000,"fdev":3000,"size":32,"data":"H3P3N2i9qc4yt7rK7ldqoeCVJGBybzPY5h1Dd7P7p8v"}}`
	specTxAck         = `{"txpk_ack":{"error":"COLLISION_PACKET"}}`
	// sx1302Rxpk is shaped like an SX1302 forwarder's rxpk, with the
	// newer fields.
	sx1302Rxpk = `{"jver":1,"tmst":561224395,"time":"2023-03-04T23:14:39.522787Z","tmms":1362006897523,"chan":6,"rfch":1,"freq":903.5,"mid":8,"stat":1,"modu":"LORA","datr":"SF9BW125","codr":"4/5","rssis":-14,"lsnr":9.2,"foff":-2769,"rssi":-13,"size":8,"data":"QAEAAAAAAAA="}`
)

// testEUI is the gateway EUI used by the tests.
var testEUI = EUI{0xaa, 0x55, 0x5a, 0x00, 0x00, 0x00, 0x01, 0x01}

// datagram builds a datagram from a header, an optional gateway EUI and a
// body.
func datagram(version uint8, token uint16, t Type, eui *EUI, body string) []byte {
	b := []byte{version, byte(token >> 8), byte(token), byte(t)}
	if eui != nil {
		b = append(b, eui[:]...)
	}
	return append(b, body...)
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// mustLoRa returns a LoRa data rate or fails the test.
func mustLoRa(t testing.TB, sf, bw int) DataRate {
	t.Helper()
	d, err := LoRaDataRate(sf, bw)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// mustFSK returns an FSK data rate or fails the test.
func mustFSK(t testing.TB, bps int) DataRate {
	t.Helper()
	d, err := FSKDataRate(bps)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sampleRXPK returns a valid LoRa rxpk.
func sampleRXPK(t testing.TB) RXPK {
	ts := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	r := RXPK{
		Time: &ts, Tmst: 3512348611, Chan: 2, RFCh: 0, Stat: CRCOK,
		Modu: ModulationLoRa, DatR: mustLoRa(t, 7, 125), CodR: "4/5",
		RSSI: -35, LSNR: 5.1,
	}
	r.SetFreqHz(868100000)
	r.SetData([]byte{0x40, 0x01, 0x02, 0x03, 0x04, 0x00, 0x01, 0x00, 0x01, 0xaa, 0xbb, 0xcc, 0xdd})
	return r
}

// sampleTXPK returns a valid LoRa txpk timed on tmst.
func sampleTXPK(t testing.TB) TXPK {
	tx := TXPK{
		Tmst: ptr(uint32(3513348611)), RFCh: 0, Powe: 14,
		Modu: ModulationLoRa, DatR: mustLoRa(t, 12, 125), CodR: "4/5", IPol: true,
	}
	tx.SetFreqHz(869525000)
	tx.SetData([]byte{0x60, 0x01, 0x02, 0x03, 0x04, 0x20, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef})
	return tx
}
