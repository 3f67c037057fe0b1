// Package manifest is the signed file list of a firmware bundle: what
// `hexnet firmware build` writes as manifest.json, what `hexnet firmware flash`
// and the agent's updater verify before installing anything.
//
// # Encoding
//
// manifest.json is a JSON envelope:
//
//	{"manifest": {...}, "signer": "<release key address>", "signature": "<base64 std>"}
//
// The signature is ed25519 by the release key over
//
//	"hexnet-firmware-manifest-v1\n" ‖ canonical JSON of "manifest"
//
// where the canonical JSON is encoding/json's Marshal of the Manifest struct
// (fields in declaration order, no insignificant whitespace, files sorted by
// path). A verifier decodes "manifest" strictly (unknown fields refused),
// re-encodes it canonically and checks the signature over that, so
// reformatting the file does not break it and no unsigned field can ride
// along. The signer field only names the key; trust comes from the caller
// passing the release key it trusts (Open refuses any other signer).
package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hexnet/hexnet/firmware/semver"
	"github.com/hexnet/hexnet/internal/identity"
)

// FileName is the name of the manifest at the top of a bundle.
const FileName = "manifest.json"

// Format is the manifest format version written and accepted.
const Format = 1

// MaxSize bounds the manifest.json accepted.
const MaxSize = 1 << 20

// maxFiles bounds the number of files listed.
const maxFiles = 256

// domain separates manifest signatures from every other use of a key.
const domain = "hexnet-firmware-manifest-v1\n"

// Sentinel errors; verification errors wrap one of them.
var (
	ErrMalformed    = errors.New("manifest: malformed")
	ErrBadSignature = errors.New("manifest: bad signature")
	ErrWrongSigner  = errors.New("manifest: signed by an untrusted key")
	ErrChecksum     = errors.New("manifest: file checksum mismatch")
	ErrSize         = errors.New("manifest: file size mismatch")
	ErrMissing      = errors.New("manifest: listed file missing")
	ErrUnlisted     = errors.New("manifest: file not in the manifest")
	ErrDowngrade    = errors.New("manifest: downgrade refused")
	ErrSameVersion  = errors.New("manifest: version already installed")
)

// CheckUpgrade returns nil when offered is a newer semantic version than
// installed, ErrSameVersion when they are equal, ErrDowngrade when offered is
// older, and ErrMalformed when either does not parse.
func CheckUpgrade(installed, offered string) error {
	c, err := semver.CompareStrings(offered, installed)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	switch {
	case c < 0:
		return fmt.Errorf("%w: %s is older than installed %s", ErrDowngrade, offered, installed)
	case c == 0:
		return fmt.Errorf("%w: %s", ErrSameVersion, offered)
	}
	return nil
}

// Arches are the gateway architectures a bundle can target.
var Arches = []string{"arm64", "armv7", "amd64"}

// File is one file of a bundle.
type File struct {
	Path   string `json:"path"`   // slash-separated, relative to the bundle top (and to the gateway's root)
	SHA256 string `json:"sha256"` // lowercase hex
	Size   int64  `json:"size"`   // bytes
	Mode   uint32 `json:"mode"`   // permission bits, e.g. 0755 for executables
}

// Manifest describes a bundle.
type Manifest struct {
	Format    int    `json:"format"`     // Format
	Version   string `json:"version"`    // semantic version of the agent
	Arch      string `json:"arch"`       // one of Arches
	Region    string `json:"region"`     // region the settings and forwarder config are for
	SubBand   int    `json:"sub_band"`   // forwarder sub-band (US915, AU915), 0 = none
	Channel   string `json:"channel"`    // release channel, "" when not published
	CreatedAt string `json:"created_at"` // RFC 3339 UTC
	Files     []File `json:"files"`      // sorted by Path, unique
}

// Envelope is the JSON form of a signed manifest.
type Envelope struct {
	Manifest  json.RawMessage `json:"manifest"`
	Signer    string          `json:"signer"`
	Signature string          `json:"signature"`
}

// Validate checks the manifest's fields and file list.
func (m *Manifest) Validate() error {
	if m.Format != Format {
		return fmt.Errorf("%w: format %d, want %d", ErrMalformed, m.Format, Format)
	}
	if _, err := semver.Parse(m.Version); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !slices.Contains(Arches, m.Arch) {
		return fmt.Errorf("%w: unknown arch %q", ErrMalformed, m.Arch)
	}
	if len(m.Files) == 0 || len(m.Files) > maxFiles {
		return fmt.Errorf("%w: %d files", ErrMalformed, len(m.Files))
	}
	for i, f := range m.Files {
		if err := ValidPath(f.Path); err != nil {
			return err
		}
		if i > 0 && m.Files[i-1].Path >= f.Path {
			return fmt.Errorf("%w: files not sorted and unique at %q", ErrMalformed, f.Path)
		}
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size || strings.ToLower(f.SHA256) != f.SHA256 {
			return fmt.Errorf("%w: bad sha256 for %q", ErrMalformed, f.Path)
		}
		if f.Size < 0 {
			return fmt.Errorf("%w: negative size for %q", ErrMalformed, f.Path)
		}
		if f.Mode&^0o777 != 0 {
			return fmt.Errorf("%w: mode %o for %q has more than permission bits", ErrMalformed, f.Mode, f.Path)
		}
	}
	return nil
}

// ValidPath checks a bundle file path: relative, slash-separated, clean, no
// "..", not the manifest itself.
func ValidPath(p string) error {
	if !fs.ValidPath(p) || p == "." || p == FileName || strings.Contains(p, "\\") || path.Clean(p) != p {
		return fmt.Errorf("%w: bad file path %q", ErrMalformed, p)
	}
	return nil
}

// Lookup returns the entry for path p.
func (m *Manifest) Lookup(p string) (File, bool) {
	i, ok := slices.BinarySearchFunc(m.Files, p, func(f File, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		return File{}, false
	}
	return m.Files[i], true
}

// SortFiles sorts the file list by path.
func (m *Manifest) SortFiles() {
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
}

// signingBytes returns the bytes the signature covers.
func signingBytes(m *Manifest) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append([]byte(domain), body...), nil
}

// Sign validates m and returns the manifest.json content signed by key.
func Sign(m *Manifest, key *identity.Key) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	msg, err := signingBytes(m)
	if err != nil {
		return nil, err
	}
	env := Envelope{
		Manifest:  msg[len(domain):],
		Signer:    key.Address().String(),
		Signature: base64.StdEncoding.EncodeToString(key.SignBytes(msg)),
	}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Decode parses manifest.json content and checks its signature against the
// signer it names. It does not decide whether that signer is trusted: use
// Open for that.
func Decode(data []byte) (*Manifest, identity.PublicKey, error) {
	if len(data) > MaxSize {
		return nil, identity.PublicKey{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(data))
	}
	var env Envelope
	if err := strictUnmarshal(data, &env); err != nil {
		return nil, identity.PublicKey{}, fmt.Errorf("%w: envelope: %w", ErrMalformed, err)
	}
	if len(env.Manifest) == 0 {
		return nil, identity.PublicKey{}, fmt.Errorf("%w: no manifest", ErrMalformed)
	}
	var m Manifest
	if err := strictUnmarshal(env.Manifest, &m); err != nil {
		return nil, identity.PublicKey{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := m.Validate(); err != nil {
		return nil, identity.PublicKey{}, err
	}
	pk, err := identity.ParseAddress(env.Signer)
	if err != nil {
		return nil, identity.PublicKey{}, fmt.Errorf("%w: signer: %w", ErrMalformed, err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signature)
	if err != nil || len(sig) != identity.SignatureSize {
		return nil, identity.PublicKey{}, fmt.Errorf("%w: signature encoding", ErrBadSignature)
	}
	msg, err := signingBytes(&m)
	if err != nil {
		return nil, identity.PublicKey{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !pk.Verify(msg, sig) {
		return nil, identity.PublicKey{}, fmt.Errorf("%w (signer %s)", ErrBadSignature, pk.Address())
	}
	return &m, pk, nil
}

// Open parses manifest.json content and checks that it is signed by trusted.
func Open(data []byte, trusted identity.PublicKey) (*Manifest, error) {
	m, pk, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if pk != trusted {
		return nil, fmt.Errorf("%w: signer %s, trusted release key %s", ErrWrongSigner, pk.Address(), trusted.Address())
	}
	return m, nil
}

// strictUnmarshal decodes one JSON value, refusing unknown fields and trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// HashFile returns the manifest entry of the file at name (Path left empty).
func HashFile(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return File{}, err
	}
	if !st.Mode().IsRegular() {
		return File{}, fmt.Errorf("%s: not a regular file", name)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	return File{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n, Mode: uint32(st.Mode().Perm())}, nil
}

// SumBytes returns the lowercase hex SHA-256 of data.
func SumBytes(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// CheckFile verifies that the file at name matches entry f.
func CheckFile(name string, f File) error {
	got, err := HashFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrMissing, f.Path)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if got.Size != f.Size {
		return fmt.Errorf("%w: %s is %d bytes, manifest says %d", ErrSize, f.Path, got.Size, f.Size)
	}
	if got.SHA256 != f.SHA256 {
		return fmt.Errorf("%w: %s", ErrChecksum, f.Path)
	}
	return nil
}

// VerifyDir checks that dir holds exactly the files m lists (plus
// manifest.json at the top), each with its size and SHA-256.
func VerifyDir(dir string, m *Manifest) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() || rel == FileName {
			return nil
		}
		if _, ok := m.Lookup(rel); !ok {
			return fmt.Errorf("%w: %s", ErrUnlisted, rel)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file", ErrUnlisted, rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range m.Files {
		if err := CheckFile(filepath.Join(dir, filepath.FromSlash(f.Path)), f); err != nil {
			return err
		}
	}
	return nil
}

// OpenDir reads dir/manifest.json, checks its signature against trusted and
// verifies every file of dir against it.
func OpenDir(dir string, trusted identity.PublicKey) (*Manifest, error) {
	data, err := readLimited(filepath.Join(dir, FileName))
	if err != nil {
		return nil, err
	}
	m, err := Open(data, trusted)
	if err != nil {
		return nil, err
	}
	if err := VerifyDir(dir, m); err != nil {
		return nil, err
	}
	return m, nil
}

func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %s larger than %d bytes", ErrMalformed, name, MaxSize)
	}
	return data, nil
}
