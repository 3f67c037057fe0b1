// Package ledgerpb holds the protobuf messages of the ledger: operations,
// journal records, reward manifests and proofs (generated from ledger.proto).
package ledgerpb
