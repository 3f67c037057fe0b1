package identity

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Key file format.
//
// A key file holds one private key as a single line of ASCII text:
//
//	hexnet-ed25519-seed:<64 lowercase hex digits of the 32-byte RFC 8032 seed>\n
//
// Nothing else is allowed except one trailing newline ("\n" or "\r\n"). The
// seed is the RFC 8032 private key, so the same key can be used by any
// standard ed25519 implementation. Key files are written with mode 0600 in
// directories created with mode 0700, and LoadKey refuses a file that the
// group or others may read or write.
const (
	// KeyFilePrefix starts every key file.
	KeyFilePrefix = "hexnet-ed25519-seed:"
	// KeyFileMode is the permission a key file is written with.
	KeyFileMode fs.FileMode = 0o600
	// KeyDirMode is the permission of directories SaveKey creates.
	KeyDirMode fs.FileMode = 0o700

	// maxKeyFileSize bounds what LoadKey reads: the line, a CRLF, and slack.
	maxKeyFileSize = 256
)

// Key file errors.
var (
	// ErrBadKeyFile is returned for a key file whose content is not the documented format.
	ErrBadKeyFile = errors.New("identity: malformed key file")
	// ErrKeyFilePermissions is returned for a key file the group or others may access.
	ErrKeyFilePermissions = errors.New("identity: key file permissions too open")
)

// EncodeKeyFile returns the key file content of k (see the format above).
func EncodeKeyFile(k *Key) []byte {
	seed := k.Seed()
	out := make([]byte, 0, len(KeyFilePrefix)+2*SeedSize+1)
	out = append(out, KeyFilePrefix...)
	out = hex.AppendEncode(out, seed)
	return append(out, '\n')
}

// DecodeKeyFile parses key file content. It accepts exactly the documented
// line, with or without one trailing newline, and lowercase hex only, so a key
// has one encoding.
func DecodeKeyFile(b []byte) (*Key, error) {
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadKeyFile, len(b))
	}
	line := b
	if rest, ok := bytes.CutSuffix(line, []byte("\r\n")); ok {
		line = rest
	} else if rest, ok := bytes.CutSuffix(line, []byte("\n")); ok {
		line = rest
	}
	hexSeed, ok := bytes.CutPrefix(line, []byte(KeyFilePrefix))
	if !ok {
		return nil, fmt.Errorf("%w: missing %q prefix", ErrBadKeyFile, KeyFilePrefix)
	}
	if len(hexSeed) != 2*SeedSize {
		return nil, fmt.Errorf("%w: seed has %d hex digits, want %d", ErrBadKeyFile, len(hexSeed), 2*SeedSize)
	}
	for _, c := range hexSeed {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, fmt.Errorf("%w: seed is not lowercase hex", ErrBadKeyFile)
		}
	}
	seed := make([]byte, SeedSize)
	if _, err := hex.Decode(seed, hexSeed); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKeyFile, err)
	}
	return FromSeed(seed)
}

// SaveKey writes k to a new key file at path with mode 0600, creating missing
// parent directories with mode 0700. It never replaces an existing file: if
// path exists the error wraps os.ErrExist.
func SaveKey(path string, k *Key) (err error) {
	if k == nil {
		return errors.New("identity: save key: nil key")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, KeyDirMode); err != nil {
			return fmt.Errorf("identity: create key directory: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, KeyFileMode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("identity: key file %s already exists, refusing to overwrite it: %w", path, err)
		}
		return fmt.Errorf("identity: create key file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
	}()
	// The umask may only narrow the mode; make sure it is exactly 0600 even
	// when the process umask is unusual.
	if runtime.GOOS != "windows" {
		if err := f.Chmod(KeyFileMode); err != nil {
			return fmt.Errorf("identity: chmod key file: %w", err)
		}
	}
	if _, err := f.Write(EncodeKeyFile(k)); err != nil {
		return fmt.Errorf("identity: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("identity: sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("identity: close key file: %w", err)
	}
	return nil
}

// LoadKey reads a key file written by SaveKey. It refuses a file that is not
// a regular file, a file the group or others may read or write (fix it with
// chmod 600), and content that is not the documented format.
func LoadKey(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: open key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the checked file is the read one.
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity: stat key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (%s)", ErrBadKeyFile, path, st.Mode().Type())
	}
	if perm := st.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %#o, readable or writable by group or others; run: chmod 600 %s",
			ErrKeyFilePermissions, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("identity: read key file: %w", err)
	}
	k, err := DecodeKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}
