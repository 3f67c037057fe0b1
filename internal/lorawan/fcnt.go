package lorawan

// MaxFCntGap is the largest forward jump of the frame counter a receiver
// accepts (LoRaWAN 1.0.x MAX_FCNT_GAP).
const MaxFCntGap = 16384

// FullFCnt reconstructs the 32-bit frame counter of a frame whose 16 bits on
// air are fcnt16, given last, the last 32-bit counter accepted for the
// device: the high 16 bits of last, plus one more 0x10000 when the low bits
// went backwards (a rollover). A frame that repeats last's low bits yields
// last itself (a retransmission). Check the result with FCntInWindow.
func FullFCnt(last uint32, fcnt16 uint16) uint32 {
	full := last&0xffff0000 | uint32(fcnt16)
	if fcnt16 < uint16(last) {
		full += 0x10000
	}
	return full
}

// FCntInWindow reports whether full is an acceptable successor of last: not
// behind it and at most MaxFCntGap ahead. Equal counters are accepted, as a
// retransmission of the same frame carries the same counter.
func FCntInWindow(last, full uint32) bool {
	return full >= last && full-last <= MaxFCntGap
}
