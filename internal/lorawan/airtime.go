package lorawan

import "time"

// Airtime returns the time on air of a LoRa frame per Semtech AN1200.13:
// Tsym = 2^SF / BW; preamble (preamble + 4.25) Tsym; payload symbols
// 8 + max(ceil((8·PL − 4·SF + 28 + 16·CRC − 20·IH) / (4·(SF − 2·DE)))·(CR + 4), 0),
// with low data-rate optimisation DE = 1 for SF11 and SF12 at 125 kHz.
// codingRate is 1..4 for 4/5..4/8. The result is exact to the nanosecond.
// Out-of-range arguments (SF outside 5..12, bandwidth ≤ 0, coding rate
// outside 1..4, negative lengths) yield 0.
func Airtime(payloadLen, sf, bwKHz, codingRate, preamble int, explicitHeader, crc bool) time.Duration {
	if sf < 5 || sf > 12 || bwKHz <= 0 || codingRate < 1 || codingRate > 4 || payloadLen < 0 || preamble < 0 {
		return 0
	}
	payloadSym := payloadSymbols(payloadLen, sf, bwKHz, codingRate, explicitHeader, crc)
	// Quarter symbols, so the preamble's 4.25 stays an integer.
	quarters := int64(4*preamble+17) + 4*int64(payloadSym)
	// Tsym in ns = 2^SF · 1e6 / bwKHz; multiply first to stay exact.
	return time.Duration(quarters * (int64(1) << sf) * 1_000_000 / (4 * int64(bwKHz)))
}

// payloadSymbols is AN1200.13's payload symbol count (header included).
func payloadSymbols(payloadLen, sf, bwKHz, codingRate int, explicitHeader, crc bool) int {
	de := 0
	if sf >= 11 && bwKHz == 125 {
		de = 1
	}
	ih, crcBit := 1, 0
	if explicitHeader {
		ih = 0
	}
	if crc {
		crcBit = 1
	}
	num := 8*payloadLen - 4*sf + 28 + 16*crcBit - 20*ih
	den := 4 * (sf - 2*de)
	n := 8
	if num > 0 {
		n += (num + den - 1) / den * (codingRate + 4)
	}
	return n
}

// SymbolTime returns the duration of one LoRa symbol, 2^SF / BW, or 0 for
// out-of-range arguments.
func SymbolTime(sf, bwKHz int) time.Duration {
	if sf < 5 || sf > 12 || bwKHz <= 0 {
		return 0
	}
	return time.Duration((int64(1) << sf) * 1_000_000 / int64(bwKHz))
}
