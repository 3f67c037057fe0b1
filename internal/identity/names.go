package identity

import "crypto/sha256"

// Name returns the deterministic three-word name of a public key
// ("adjective-colour-animal"), chosen by the SHA-256 of the key.
func Name(pk PublicKey) string {
	h := sha256.Sum256(pk[:])
	a := int(h[0])<<8 | int(h[1])
	c := int(h[2])<<8 | int(h[3])
	n := int(h[4])<<8 | int(h[5])
	return adjectives[a%len(adjectives)] + "-" + colours[c%len(colours)] + "-" + animals[n%len(animals)]
}

var adjectives = []string{"angry", "brave", "calm", "daring", "eager", "fancy", "gentle", "happy", "icy", "jolly", "kind", "lively", "mellow", "nimble", "odd", "proud"}
var colours = []string{"amber", "black", "blue", "bronze", "coral", "crimson", "gold", "green", "grey", "indigo", "ivory", "lime", "orange", "pink", "purple", "red"}
var animals = []string{"tiger", "otter", "falcon", "badger", "heron", "lynx", "moose", "owl", "panda", "raven", "salmon", "seal", "sparrow", "toad", "walrus", "yak"}
