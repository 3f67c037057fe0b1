package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hexnet/hexnet/internal/identity"
)

// Keys are the network's own signing keys. Each lives in its own key file
// under the data directory's keys/ folder and is generated on first start.
type Keys struct {
	Admin   *identity.Key // registers makers, signs genesis
	Oracle  *identity.Key // signs PoC verdicts and reward manifests
	Entropy *identity.Key // signs entropy
	Router  *identity.Key // signs downlinks
	Config  *identity.Key // signs region parameters for hotspots
}

// keyNames lists the key files of Keys.
var keyNames = []string{"admin", "oracle", "entropy", "router", "config"}

// LoadOrCreateKeys loads the network keys from dir, creating missing ones.
func LoadOrCreateKeys(dir string) (*Keys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("node: keys dir: %w", err)
	}
	loaded := make(map[string]*identity.Key, len(keyNames))
	for _, name := range keyNames {
		path := filepath.Join(dir, name+".key")
		k, err := identity.LoadKey(path)
		if errors.Is(err, fs.ErrNotExist) {
			if k, err = identity.Generate(); err == nil {
				err = identity.SaveKey(path, k)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("node: %s key: %w", name, err)
		}
		loaded[name] = k
	}
	return &Keys{
		Admin:   loaded["admin"],
		Oracle:  loaded["oracle"],
		Entropy: loaded["entropy"],
		Router:  loaded["router"],
		Config:  loaded["config"],
	}, nil
}

// Services returns the public keys that get full access to the broker.
func (k *Keys) Services() []identity.PublicKey {
	return []identity.PublicKey{k.Admin.Public(), k.Oracle.Public(), k.Entropy.Public(), k.Router.Public(), k.Config.Public()}
}
