package identity

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestKeyFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "hotspot.key")
	k := testKey(t, 5)
	if err := SaveKey(path, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if got := st.Mode().Perm(); got != 0o600 {
			t.Fatalf("key file mode %#o, want 0600", got)
		}
		for _, d := range []string{filepath.Join(dir, "a"), filepath.Join(dir, "a", "b")} {
			dst, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if got := dst.Mode().Perm(); got != 0o700 {
				t.Fatalf("directory %s mode %#o, want 0700", d, got)
			}
		}
	}
	got, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Public() != k.Public() || !bytes.Equal(got.Seed(), k.Seed()) {
		t.Fatal("loaded key differs from the saved one")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := KeyFilePrefix + hex.EncodeToString(k.Seed()) + "\n"
	if string(b) != want {
		t.Fatalf("key file content %q, want %q", b, want)
	}
}

func TestSaveKeyRefusesOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hotspot.key")
	first, second := testKey(t, 1), testKey(t, 2)
	if err := SaveKey(path, first); err != nil {
		t.Fatal(err)
	}
	err := SaveKey(path, second)
	if !errors.Is(err, os.ErrExist) {
		t.Fatalf("second SaveKey: err = %v, want os.ErrExist", err)
	}
	got, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Public() != first.Public() {
		t.Fatal("the refused SaveKey changed the key file")
	}
}

func TestLoadKeyPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permissions")
	}
	cases := []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o700, true},
		{0o644, false},
		{0o640, false},
		{0o604, false},
		{0o620, false},
		{0o602, false},
		{0o660, false},
		{0o666, false},
		{0o601, false},
	}
	k := testKey(t, 3)
	for _, c := range cases {
		t.Run(c.mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(path, EncodeKeyFile(k), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, c.mode); err != nil {
				t.Fatal(err)
			}
			got, err := LoadKey(path)
			if c.ok {
				if err != nil {
					t.Fatalf("mode %#o refused: %v", c.mode, err)
				}
				if got.Public() != k.Public() {
					t.Fatal("wrong key loaded")
				}
				return
			}
			if !errors.Is(err, ErrKeyFilePermissions) {
				t.Fatalf("mode %#o: err = %v, want ErrKeyFilePermissions", c.mode, err)
			}
			msg := err.Error()
			for _, want := range []string{"chmod 600", path, fmt.Sprintf("%04o", uint32(c.mode))} {
				if !strings.Contains(msg, want) {
					t.Fatalf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
}

func TestLoadKeyMalformed(t *testing.T) {
	seedHex := hex.EncodeToString(testKey(t, 0xab).Seed()) // has letters, so case matters
	cases := []struct {
		name, content string
		ok            bool
	}{
		{"canonical", KeyFilePrefix + seedHex + "\n", true},
		{"no newline", KeyFilePrefix + seedHex, true},
		{"crlf", KeyFilePrefix + seedHex + "\r\n", true},
		{"empty", "", false},
		{"newline only", "\n", false},
		{"no prefix", seedHex + "\n", false},
		{"other prefix", "hexnet-ed448-seed:" + seedHex + "\n", false},
		{"short seed", KeyFilePrefix + seedHex[:62] + "\n", false},
		{"long seed", KeyFilePrefix + seedHex + "00\n", false},
		{"uppercase hex", KeyFilePrefix + strings.ToUpper(seedHex) + "\n", false},
		{"not hex", KeyFilePrefix + "g" + seedHex[1:] + "\n", false},
		{"two newlines", KeyFilePrefix + seedHex + "\n\n", false},
		{"second line", KeyFilePrefix + seedHex + "\n" + KeyFilePrefix + seedHex + "\n", false},
		{"leading space", " " + KeyFilePrefix + seedHex + "\n", false},
		{"trailing space", KeyFilePrefix + seedHex + " \n", false},
		{"huge", KeyFilePrefix + strings.Repeat("0", 1<<20), false},
		{"json", `{"seed":"` + seedHex + `"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadKey(path)
			if c.ok != (err == nil) {
				t.Fatalf("LoadKey(%q) err = %v, want ok=%v", c.content, err, c.ok)
			}
			if !c.ok && !errors.Is(err, ErrBadKeyFile) {
				t.Fatalf("err = %v, want ErrBadKeyFile", err)
			}
		})
	}
}

func TestLoadKeyNotAFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadKey(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: err = %v, want fs.ErrNotExist", err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(sub); err == nil {
		t.Fatal("a directory loaded as a key")
	}
}

// The seed in a key file is the RFC 8032 private key: RFC 8032 §7.1 test 1.
func TestKeyFileRFC8032(t *testing.T) {
	content := KeyFilePrefix + "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n"
	k, err := DecodeKeyFile([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	want := "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	if got := hex.EncodeToString(k.Public().Bytes()); got != want {
		t.Fatalf("public key %s, want %s", got, want)
	}
	sig := hex.EncodeToString(k.SignBytes(nil))
	wantSig := "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
	if sig != wantSig {
		t.Fatalf("signature of the empty message %s, want %s", sig, wantSig)
	}
	if string(EncodeKeyFile(k)) != content {
		t.Fatal("EncodeKeyFile does not reproduce the file")
	}
}

func TestSaveKeyNil(t *testing.T) {
	if err := SaveKey(filepath.Join(t.TempDir(), "k"), nil); err == nil {
		t.Fatal("SaveKey(nil) succeeded")
	}
}
