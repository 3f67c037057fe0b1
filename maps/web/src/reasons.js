// Plain-language explanations of PoC verdict reasons (poc.Reason names).
export const REASONS = {
  reason_none: 'Valid.',
  bad_signature: "The report's signature did not verify.",
  not_asserted: 'The hotspot has no asserted location.',
  entropy_expired: "The report arrived outside its entropy's validity window.",
  bad_entropy: 'The report referred to unknown or mismatched entropy.',
  invalid_capability: 'This hotspot may not take part in proof of coverage.',
  invalid_pubkey: 'The signer is not a usable public key.',
  irregular_interval: 'The hotspot beaconed more than once in its 6-hour window.',
  gateway_not_found: 'The hotspot is not onboarded.',
  denied: 'The hotspot is on the denylist.',
  invalid_packet: "The beacon's data does not match what its entropy should produce.",
  bad_rssi: 'The signal was stronger than physics allows at this distance.',
  invalid_region: "The hotspot's region differs from the beaconer's.",
  max_distance_exceeded: 'The witness is more than 100 km from the beaconer.',
  invalid_frequency: 'The witness heard the beacon more than 100 kHz off its frequency.',
  self_witness: 'A hotspot cannot witness its own beacon.',
  stale: 'The report was too old to process.',
  scaling_factor_not_found: "No density scale is known for the beaconer's hex.",
  unknown_error: 'An internal error stopped the verification.',
  below_min_distance: 'The witness is too close to the beaconer (under about 345 m).',
  duplicate: 'This witness was already counted for this beacon.',
  denied_edge: 'This pair of hotspots is on the denylist.',
  too_late: 'The witness report arrived too long after the beacon.',
  gateway_no_valid_beacons: "This witness's own beacons drew no valid witness in 48 hours.",
  gateway_no_valid_witnesses: 'This beaconer made no valid witness report in 48 hours.',
  malformed: 'The report did not decode, or a field was out of range.',
  oversize: 'The report is larger than the wire limit.',
  beacon_not_found: 'The beacon this witness refers to never arrived.',
  suspected_spoof: "The hotspot's asserted location looks spoofed.",
  suspected_ring: 'The hotspot seems to be in a ring that only witnesses itself.',
  suspected_rssi_forge: 'The reported signal strength looks forged.',
  suspected_replay: "The report copies another hotspot's reception: a replay, not a reception.",
};

export function reasonText(r) {
  return REASONS[r] || `Rejected (${r}).`;
}
