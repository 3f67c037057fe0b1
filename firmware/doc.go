// Package firmware groups what puts the hotspot agent onto a gateway and keeps
// it current: bundle (cross-compile and sign a bundle), flash (provision a
// gateway's root filesystem from a bundle), ota (the agent's A/B updater),
// releases (the network's release endpoint), manifest (the signed file list
// they share), pktfwd (the Semtech packet forwarder's region config) and
// semver (version order).
package firmware
