// Package keycmd is the `keys` subcommand shared by the hexnet and hotspot
// binaries: generate a key file, show a key file's address and name.
package keycmd

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/hexnet/hexnet/internal/identity"
)

// Run executes `keys generate --out FILE` or `keys show FILE` and returns the exit code.
func Run(prog string, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintf(stderr, "usage:\n  %s keys generate --out FILE   write a new ed25519 key file (mode 0600, never overwrites)\n  %s keys show FILE             print the key's address, name and public key as JSON\n", prog, prog)
	}
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "generate":
		fs := flag.NewFlagSet("keys generate", flag.ContinueOnError)
		fs.SetOutput(stderr)
		out := fs.String("out", "", "key file to write")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if *out == "" {
			fmt.Fprintln(stderr, "keys generate: --out FILE is required")
			return 2
		}
		k, err := identity.Generate()
		if err != nil {
			fmt.Fprintln(stderr, "keys generate:", err)
			return 1
		}
		if err := identity.SaveKey(*out, k); err != nil {
			fmt.Fprintln(stderr, "keys generate:", err)
			return 1
		}
		return show(k, stdout)
	case "show":
		if len(args) != 2 {
			usage()
			return 2
		}
		k, err := identity.LoadKey(args[1])
		if err != nil {
			fmt.Fprintln(stderr, "keys show:", err)
			return 1
		}
		return show(k, stdout)
	case "-h", "--help", "help":
		usage()
		return 0
	}
	usage()
	return 2
}

func show(k *identity.Key, w io.Writer) int {
	pk := k.Public()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]string{
		"address":    string(pk.Address()),
		"name":       pk.Name(),
		"public_key": hex.EncodeToString(pk[:]),
	})
	return 0
}
