package manifest

import (
	"fmt"
	"slices"

	"github.com/hexnet/hexnet/firmware/semver"
)

// MaxIndexSize bounds a release index.
const MaxIndexSize = 64 << 10

// Index is what the network serves at GET /api/v1/releases/{channel}: the
// channel's current version and, per architecture, where its signed manifest
// is and its SHA-256. The index itself is not signed; the wire.Release on
// the retained release/{channel} topic carries its SHA-256 under the release
// key, and each manifest is signed, so a forged index can at worst point at
// an older signed manifest, which the updater refuses as a downgrade.
type Index struct {
	Channel   string                `json:"channel"`
	Version   string                `json:"version"`
	Manifests map[string]IndexEntry `json:"manifests"` // by arch
}

// IndexEntry locates one architecture's manifest.
type IndexEntry struct {
	URL    string `json:"url"`    // absolute, or relative to the index URL
	SHA256 string `json:"sha256"` // of the manifest.json bytes, lowercase hex
}

// DecodeIndex parses and checks an index.
func DecodeIndex(data []byte) (*Index, error) {
	if len(data) > MaxIndexSize {
		return nil, fmt.Errorf("%w: index of %d bytes", ErrMalformed, len(data))
	}
	var ix Index
	if err := strictUnmarshal(data, &ix); err != nil {
		return nil, fmt.Errorf("%w: index: %w", ErrMalformed, err)
	}
	if _, err := semver.Parse(ix.Version); err != nil {
		return nil, fmt.Errorf("%w: index: %w", ErrMalformed, err)
	}
	for arch, e := range ix.Manifests {
		if !slices.Contains(Arches, arch) || e.URL == "" || len(e.SHA256) != 64 {
			return nil, fmt.Errorf("%w: index entry %q", ErrMalformed, arch)
		}
	}
	return &ix, nil
}
