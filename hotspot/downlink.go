package hotspot

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
)

// txAckTimeout bounds the wait for the forwarder's TX_ACK.
const txAckTimeout = 2 * time.Second

// onDown handles a PacketDown: it checks the router's signature and that the
// downlink is for this hotspot, transmits it in RX1, falls back to RX2 when
// the forwarder refuses RX1, and reports the outcome on the txack topic.
func (a *Agent) onDown(ctx context.Context, b []byte) {
	var pd wire.PacketDown
	if err := wire.Unmarshal(b, &pd); err != nil {
		a.rejectDown("malformed", err)
		return
	}
	if a.routerKey == nil {
		a.rejectDown("no_router_key", errors.New("network.router is not configured; downlinks cannot be trusted"))
		return
	}
	if !bytes.Equal(pd.GetSigner(), a.routerKey[:]) {
		a.rejectDown("wrong_signer", errors.New("downlink not signed by the router"))
		return
	}
	if err := identity.Verify(&pd, *a.routerKey); err != nil {
		a.rejectDown("bad_signature", err)
		return
	}
	if !bytes.Equal(pd.GetHotspot(), a.key.Public().Bytes()) {
		a.rejectDown("wrong_hotspot", errors.New("downlink addressed to another hotspot"))
		return
	}
	status, window := wire.TxStatus_TX_STATUS_UNKNOWN, uint32(0)
	for i, w := range []*wire.Window{pd.GetRx1(), pd.GetRx2()} {
		if w == nil || w.GetFrequency() == 0 {
			continue
		}
		window = uint32(i + 1)
		txpk, err := a.txpkFor(&pd, w)
		if err != nil {
			a.rejectDown("bad_window", err)
			status = wire.TxStatus_TX_FREQ
			continue
		}
		txErr, err := a.fwd.transmit(ctx, txpk, txAckTimeout)
		switch {
		case errors.Is(err, ErrNoForwarder):
			status = wire.TxStatus_TX_NO_FORWARDER
		case err != nil:
			status = wire.TxStatus_TX_TIMEOUT
		default:
			status = txStatus(txErr)
		}
		if status == wire.TxStatus_TX_OK {
			a.stats.downlinksSent.Add(1)
			break
		}
		a.log.Info("downlink window refused", "window", window, "status", status.String())
		if status == wire.TxStatus_TX_NO_FORWARDER {
			break
		}
	}
	ack := &wire.TxAck{Id: pd.GetId(), Status: status, Window: window, ReportedAtMs: uint64(a.clk.Now().UnixMilli())}
	if err := a.key.Sign(ack); err != nil {
		return
	}
	payload, err := wire.Marshal(ack)
	if err != nil {
		return
	}
	a.mu.Lock()
	conn := a.conn
	a.mu.Unlock()
	pctx, c := context.WithTimeout(ctx, 5*time.Second)
	defer c()
	if err := conn.Publish(pctx, wire.TxAckTopic(a.addr), 1, false, payload); err != nil {
		a.log.Debug("publish tx ack", "err", err)
	}
}

func (a *Agent) rejectDown(reason string, err error) {
	a.stats.rejectedDownlinks.Add(1)
	a.log.Warn("downlink rejected", "reason", reason, "err", err)
}

// txpkFor builds the forwarder's txpk for one window of a downlink.
func (a *Agent) txpkFor(pd *wire.PacketDown, w *wire.Window) (gwmp.TXPK, error) {
	dr, err := gwmp.ParseDataRate(w.GetDataRate())
	if err != nil {
		return gwmp.TXPK{}, err
	}
	power := pd.GetPowerDbm()
	if power == 0 {
		power = a.defaultPower()
	}
	tx := gwmp.TXPK{
		Imme: w.GetImmediate(),
		Powe: uint8(power),
		Modu: gwmp.ModulationLoRa,
		DatR: dr,
		CodR: "4/5",
		IPol: true,
		Size: uint16(len(pd.GetPayload())),
		Data: gwmp.Payload(pd.GetPayload()),
	}
	if !tx.Imme {
		t := w.GetTmst()
		tx.Tmst = &t
	}
	tx.SetFreqHz(w.GetFrequency())
	return tx, nil
}

// defaultPower is the region's max EIRP less the asserted antenna gain, at least 1 dBm.
func (a *Agent) defaultPower() uint32 {
	reg, err := lorawan.RegionByID(a.currentRegion())
	if err != nil {
		return 14
	}
	p := int(reg.MaxEIRP - float64(a.antennaGain())/10)
	if p < 1 {
		p = 1
	}
	if p > gwmp.MaxPower {
		p = gwmp.MaxPower
	}
	return uint32(p)
}

func txStatus(e gwmp.TxError) wire.TxStatus {
	switch e {
	case gwmp.TxErrorNone, "":
		return wire.TxStatus_TX_OK
	case gwmp.TxErrorTooLate:
		return wire.TxStatus_TX_TOO_LATE
	case gwmp.TxErrorTooEarly:
		return wire.TxStatus_TX_TOO_EARLY
	case gwmp.TxErrorCollisionPacket:
		return wire.TxStatus_TX_COLLISION_PACKET
	case gwmp.TxErrorCollisionBeacon:
		return wire.TxStatus_TX_COLLISION_BEACON
	case gwmp.TxErrorTxFreq:
		return wire.TxStatus_TX_FREQ
	case gwmp.TxErrorTxPower:
		return wire.TxStatus_TX_POWER
	case gwmp.TxErrorGPSUnlocked:
		return wire.TxStatus_TX_GPS_UNLOCKED
	}
	return wire.TxStatus_TX_STATUS_UNKNOWN
}
