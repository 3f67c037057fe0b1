package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/ledger/ledgerapi"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/ledger/merkle"
)

// The ledger CLI signs operations locally with the user's key file and
// submits them over HTTP, so a private key never leaves its machine.

const defaultAPI = "http://127.0.0.1:8080"

const ledgerUsage = `ledger commands (all take --api URL, default ` + defaultAPI + `):
  hexnet wallet create --out FILE
  hexnet wallet show [--key FILE | ADDRESS]
  hexnet wallet transfer --key FILE --to ADDRESS --amount N
  hexnet maker add --key ADMIN_KEY --maker ADDRESS [--name NAME]
  hexnet maker revoke --key ADMIN_KEY --maker ADDRESS
  hexnet hotspot onboard --hotspot ADDRESS [--owner ADDRESS | --owner-key FILE] [--maker ADDRESS | --maker-key FILE]
                         [--request FILE] [--out FILE]
        (both keys: signed and submitted; one key: --out writes the half-signed request for the
         other signer, who finishes it with --request FILE and their key)
  hexnet hotspot assert --key OWNER_KEY --hotspot ADDRESS (--h3 HEX | --lat DEG --lng DEG) --gain DBI_X10 [--elevation M]
  hexnet hotspot transfer --key OWNER_KEY --hotspot ADDRESS --to ADDRESS
  hexnet hotspot show ADDRESS
  hexnet dc buy --key FILE --dc N                  burn tokens for N data credits
  hexnet dc delegate --key FILE --oui ID --dc N    give N data credits to an OUI's payer
  hexnet dc balance [--key FILE | ADDRESS]
  hexnet oui create --key FILE [--payer ADDRESS] [--max-copies N] [--destination PROTO=ENDPOINT ...]
  hexnet oui show [ID]
  hexnet oui devaddr --key FILE --oui ID --range START-END ...   (hex DevAddrs, inclusive; replaces the ranges)
  hexnet oui eui --key FILE --oui ID (--add | --remove) JOINEUI:DEVEUI ...
  hexnet oui destination --key FILE --oui ID [--max-copies N] [--destination PROTO=ENDPOINT ...]
  hexnet rewards epochs
  hexnet rewards show EPOCH
  hexnet rewards proof EPOCH ADDRESS [--out FILE]
  hexnet rewards verify EPOCH ADDRESS [--oracle ADDRESS] [--pin FILE] [--proof FILE]
        (checks each entry against the root signed by the oracle; the oracle address comes from
         --oracle, or the pin file, or is fetched once and pinned there — default ~/.hexnet/oracle.pin)
`

// cli is one ledger command invocation.
type cli struct {
	name           string
	fs             *flag.FlagSet
	api            *string
	stdout, stderr io.Writer
	args           []string
}

func newCLI(name string, stdout, stderr io.Writer) *cli {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, ledgerUsage) }
	return &cli{name: name, fs: fs, api: fs.String("api", defaultAPI, "ledger API base URL"), stdout: stdout, stderr: stderr}
}

// parse parses flags anywhere among the arguments and keeps the positionals.
func (c *cli) parse(args []string) bool {
	for {
		if err := c.fs.Parse(args); err != nil {
			return false
		}
		args = c.fs.Args()
		if len(args) == 0 {
			return true
		}
		c.args = append(c.args, args[0])
		args = args[1:]
	}
}

func (c *cli) client() *ledgerapi.Client { return ledgerapi.NewClient(*c.api, nil) }

func (c *cli) fail(err error) int {
	fmt.Fprintf(c.stderr, "%s: %v\n", c.name, err)
	return 1
}

func (c *cli) usageErr(msg string) int {
	fmt.Fprintf(c.stderr, "%s: %s\n\n%s", c.name, msg, ledgerUsage)
	return 2
}

func (c *cli) printJSON(v any) int {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return c.fail(err)
	}
	return 0
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

// loadKey loads a key file given by flag.
func loadKey(path string) (*identity.Key, error) {
	if path == "" {
		return nil, errors.New("--key FILE is required")
	}
	return identity.LoadKey(path)
}

// nextNonce returns the account's last nonce + 1, as the ledger reports it.
func (c *cli) nextNonce(pk identity.PublicKey) (uint64, error) {
	cx, cancel := ctx()
	defer cancel()
	a, err := c.client().Account(cx, pk.Address())
	if err != nil {
		return 0, fmt.Errorf("fetch nonce: %w", err)
	}
	return a.Nonce + 1, nil
}

// signAndSubmit fills the nonce through set, signs m with k and submits it.
func (c *cli) signAndSubmit(k *identity.Key, setNonce func(uint64), m identity.Signed) int {
	n, err := c.nextNonce(k.Public())
	if err != nil {
		return c.fail(err)
	}
	setNonce(n)
	b, err := ledger.SignOp(k, m)
	if err != nil {
		return c.fail(err)
	}
	return c.submit(b)
}

func (c *cli) submit(b []byte) int {
	cx, cancel := ctx()
	defer cancel()
	h, err := c.client().Submit(cx, b)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "accepted at height %d\n", h)
	return 0
}

// addressArg resolves the account of a show command: --key FILE or ADDRESS.
func (c *cli) addressArg(keyPath string) (identity.Address, error) {
	switch {
	case keyPath != "" && len(c.args) == 0:
		k, err := identity.LoadKey(keyPath)
		if err != nil {
			return "", err
		}
		return k.Address(), nil
	case keyPath == "" && len(c.args) == 1:
		if _, err := identity.ParseAddress(c.args[0]); err != nil {
			return "", err
		}
		return identity.Address(c.args[0]), nil
	}
	return "", errors.New("give --key FILE or one ADDRESS")
}

func parseAddr(flagName, s string) (identity.PublicKey, error) {
	if s == "" {
		return identity.PublicKey{}, fmt.Errorf("--%s ADDRESS is required", flagName)
	}
	pk, err := identity.ParseAddress(s)
	if err != nil {
		return pk, fmt.Errorf("--%s: %w", flagName, err)
	}
	return pk, nil
}

// runWallet runs `hexnet wallet create|show|transfer`.
func runWallet(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, ledgerUsage)
		return 2
	}
	c := newCLI("wallet "+args[0], stdout, stderr)
	keyPath := c.fs.String("key", "", "wallet key file")
	switch args[0] {
	case "create":
		out := c.fs.String("out", "", "key file to write (mode 0600, never overwritten)")
		if !c.parse(args[1:]) {
			return 2
		}
		if *out == "" {
			return c.usageErr("--out FILE is required")
		}
		k, err := identity.Generate()
		if err != nil {
			return c.fail(err)
		}
		if err := identity.SaveKey(*out, k); err != nil {
			return c.fail(err)
		}
		return c.printJSON(map[string]string{"address": string(k.Address()), "key_file": *out})
	case "show":
		if !c.parse(args[1:]) {
			return 2
		}
		addr, err := c.addressArg(*keyPath)
		if err != nil {
			return c.usageErr(err.Error())
		}
		cx, cancel := ctx()
		defer cancel()
		a, err := c.client().Account(cx, addr)
		if err != nil {
			return c.fail(err)
		}
		return c.printJSON(a)
	case "transfer":
		to := c.fs.String("to", "", "recipient address")
		amount := c.fs.Uint64("amount", 0, "token base units")
		if !c.parse(args[1:]) {
			return 2
		}
		k, err := loadKey(*keyPath)
		if err != nil {
			return c.usageErr(err.Error())
		}
		pk, err := parseAddr("to", *to)
		if err != nil {
			return c.usageErr(err.Error())
		}
		if *amount == 0 {
			return c.usageErr("--amount must be positive")
		}
		m := &ledgerpb.TransferTokens{To: pk.Bytes(), Amount: *amount}
		return c.signAndSubmit(k, func(n uint64) { m.Nonce = n }, m)
	}
	return c.usageErr("unknown wallet command " + strconv.Quote(args[0]))
}

// runMaker runs `hexnet maker add|revoke`.
func runMaker(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, ledgerUsage)
		return 2
	}
	c := newCLI("maker "+args[0], stdout, stderr)
	keyPath := c.fs.String("key", "", "admin key file")
	maker := c.fs.String("maker", "", "maker address")
	name := c.fs.String("name", "", "maker name")
	if args[0] != "add" && args[0] != "revoke" {
		return c.usageErr("unknown maker command " + strconv.Quote(args[0]))
	}
	if !c.parse(args[1:]) {
		return 2
	}
	k, err := loadKey(*keyPath)
	if err != nil {
		return c.usageErr(err.Error())
	}
	mk, err := parseAddr("maker", *maker)
	if err != nil {
		return c.usageErr(err.Error())
	}
	if args[0] == "add" {
		m := &ledgerpb.RegisterMaker{Maker: mk.Bytes(), Name: *name}
		return c.signAndSubmit(k, func(n uint64) { m.Nonce = n }, m)
	}
	m := &ledgerpb.RevokeMaker{Maker: mk.Bytes()}
	return c.signAndSubmit(k, func(n uint64) { m.Nonce = n }, m)
}

// runHotspot runs `hexnet hotspot onboard|assert|transfer|show`.
func runHotspot(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, ledgerUsage)
		return 2
	}
	c := newCLI("hotspot "+args[0], stdout, stderr)
	keyPath := c.fs.String("key", "", "owner key file")
	hotspot := c.fs.String("hotspot", "", "hotspot address")
	switch args[0] {
	case "onboard":
		return c.onboard(args[1:], hotspot)
	case "assert":
		cell := c.fs.String("h3", "", "H3 cell, resolution 12, hex")
		lat := c.fs.Float64("lat", 0, "latitude, degrees")
		lng := c.fs.Float64("lng", 0, "longitude, degrees")
		gain := c.fs.Int("gain", 0, "antenna gain, dBi x 10")
		elev := c.fs.Int("elevation", 0, "elevation, metres")
		if !c.parse(args[1:]) {
			return 2
		}
		k, err := loadKey(*keyPath)
		if err != nil {
			return c.usageErr(err.Error())
		}
		hs, err := parseAddr("hotspot", *hotspot)
		if err != nil {
			return c.usageErr(err.Error())
		}
		var h uint64
		latSet, lngSet := false, false
		c.fs.Visit(func(f *flag.Flag) { latSet = latSet || f.Name == "lat"; lngSet = lngSet || f.Name == "lng" })
		switch {
		case *cell != "" && !latSet && !lngSet:
			if h, err = strconv.ParseUint(strings.TrimPrefix(*cell, "0x"), 16, 64); err != nil {
				return c.usageErr("--h3: " + err.Error())
			}
		case *cell == "" && latSet && lngSet:
			if *lat < -90 || *lat > 90 || *lng < -180 || *lng > 180 {
				return c.usageErr("--lat/--lng out of range")
			}
			h = uint64(h3.LatLngToCell(h3.NewLatLng(*lat, *lng), ledger.LocationResolution))
		default:
			return c.usageErr("give --h3 HEX or both --lat and --lng")
		}
		if *gain < -1<<31 || *gain > 1<<31-1 || *elev < -1<<31 || *elev > 1<<31-1 {
			return c.usageErr("--gain/--elevation out of range")
		}
		m := &ledgerpb.AssertLocation{Hotspot: hs.Bytes(), H3: h, Gain: int32(*gain), Elevation: int32(*elev)}
		return c.signAndSubmit(k, func(n uint64) { m.Nonce = n }, m)
	case "transfer":
		to := c.fs.String("to", "", "new owner address")
		if !c.parse(args[1:]) {
			return 2
		}
		k, err := loadKey(*keyPath)
		if err != nil {
			return c.usageErr(err.Error())
		}
		hs, err := parseAddr("hotspot", *hotspot)
		if err != nil {
			return c.usageErr(err.Error())
		}
		pk, err := parseAddr("to", *to)
		if err != nil {
			return c.usageErr(err.Error())
		}
		m := &ledgerpb.TransferHotspot{Hotspot: hs.Bytes(), NewOwner: pk.Bytes()}
		return c.signAndSubmit(k, func(n uint64) { m.Nonce = n }, m)
	case "show":
		if !c.parse(args[1:]) {
			return 2
		}
		if len(c.args) != 1 && *hotspot == "" {
			return c.usageErr("give the hotspot ADDRESS")
		}
		a := *hotspot
		if a == "" {
			a = c.args[0]
		}
		if _, err := identity.ParseAddress(a); err != nil {
			return c.usageErr(err.Error())
		}
		cx, cancel := ctx()
		defer cancel()
		h, err := c.client().Hotspot(cx, identity.Address(a))
		if err != nil {
			return c.fail(err)
		}
		return c.printJSON(h)
	}
	return c.usageErr("unknown hotspot command " + strconv.Quote(args[0]))
}

// onboard builds, signs with the keys at hand and submits (or hands over) an onboarding.
func (c *cli) onboard(args []string, hotspot *string) int {
	owner := c.fs.String("owner", "", "owner address (when the owner signs elsewhere)")
	ownerKey := c.fs.String("owner-key", "", "owner key file")
	maker := c.fs.String("maker", "", "maker address (when the maker signs elsewhere)")
	makerKey := c.fs.String("maker-key", "", "maker key file")
	request := c.fs.String("request", "", "half-signed request file to finish")
	out := c.fs.String("out", "", "write the (half-)signed request here instead of submitting")
	nonce := c.fs.Uint64("nonce", 0, "maker nonce (default: fetched)")
	if !c.parse(args) {
		return 2
	}
	var ok, mk *identity.Key
	var err error
	if *ownerKey != "" {
		if ok, err = identity.LoadKey(*ownerKey); err != nil {
			return c.fail(err)
		}
	}
	if *makerKey != "" {
		if mk, err = identity.LoadKey(*makerKey); err != nil {
			return c.fail(err)
		}
	}
	op := &ledgerpb.OnboardHotspot{}
	if *request != "" {
		b, err := os.ReadFile(*request)
		if err != nil {
			return c.fail(err)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(raw) > 4096 {
			return c.fail(fmt.Errorf("request file is not a base64 onboarding request"))
		}
		if err := proto.Unmarshal(raw, op); err != nil {
			return c.fail(fmt.Errorf("request file: %w", err))
		}
	} else {
		hs, err := parseAddr("hotspot", *hotspot)
		if err != nil {
			return c.usageErr(err.Error())
		}
		op.Hotspot = hs.Bytes()
		switch {
		case ok != nil:
			op.Owner = ok.Public().Bytes()
		case *owner != "":
			pk, err := parseAddr("owner", *owner)
			if err != nil {
				return c.usageErr(err.Error())
			}
			op.Owner = pk.Bytes()
		default:
			return c.usageErr("give --owner ADDRESS or --owner-key FILE")
		}
		var makerPK identity.PublicKey
		switch {
		case mk != nil:
			makerPK = mk.Public()
		case *maker != "":
			if makerPK, err = parseAddr("maker", *maker); err != nil {
				return c.usageErr(err.Error())
			}
		default:
			return c.usageErr("give --maker ADDRESS or --maker-key FILE")
		}
		op.Maker = makerPK.Bytes()
		op.Nonce = *nonce
		if op.Nonce == 0 {
			if op.Nonce, err = c.nextNonce(makerPK); err != nil {
				return c.fail(err)
			}
		}
	}
	if ok != nil {
		if !bytesEqual(op.Owner, ok.Public().Bytes()) {
			return c.fail(errors.New("--owner-key is not the request's owner"))
		}
		if err := ledger.SignOnboardOwner(op, ok); err != nil {
			return c.fail(err)
		}
	}
	if mk != nil {
		if !bytesEqual(op.Maker, mk.Public().Bytes()) {
			return c.fail(errors.New("--maker-key is not the request's maker"))
		}
		if err := ledger.SignOnboardMaker(op, mk); err != nil {
			return c.fail(err)
		}
	}
	if *out != "" {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(op)
		if err != nil {
			return c.fail(err)
		}
		if err := os.WriteFile(*out, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o644); err != nil {
			return c.fail(err)
		}
		fmt.Fprintf(c.stdout, "request written to %s\n", *out)
		return 0
	}
	if len(op.OwnerSignature) == 0 || len(op.MakerSignature) == 0 {
		return c.usageErr("an onboarding needs the owner's and the maker's signatures; use --out to hand it to the other signer")
	}
	b, err := ledger.EncodeOp(&ledgerpb.Op{Body: &ledgerpb.Op_OnboardHotspot{OnboardHotspot: op}})
	if err != nil {
		return c.fail(err)
	}
	return c.submit(b)
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// runDC runs `hexnet dc buy|delegate|balance`.
func runDC(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, ledgerUsage)
		return 2
	}
	c := newCLI("dc "+args[0], stdout, stderr)
	keyPath := c.fs.String("key", "", "wallet key file")
	dc := c.fs.Uint64("dc", 0, "data credits")
	oui := c.fs.Uint64("oui", 0, "OUI id")
	if !c.parse(args[1:]) {
		return 2
	}
	switch args[0] {
	case "buy", "delegate":
		k, err := loadKey(*keyPath)
		if err != nil {
			return c.usageErr(err.Error())
		}
		if *dc == 0 {
			return c.usageErr("--dc must be positive")
		}
		if args[0] == "buy" {
			m := &ledgerpb.BurnForDC{Dc: *dc}
			return c.signAndSubmit(k, func(n uint64) { m.Nonce = n }, m)
		}
		if *oui == 0 {
			return c.usageErr("--oui ID is required")
		}
		m := &ledgerpb.DelegateDC{Oui: *oui, Dc: *dc}
		return c.signAndSubmit(k, func(n uint64) { m.Nonce = n }, m)
	case "balance":
		addr, err := c.addressArg(*keyPath)
		if err != nil {
			return c.usageErr(err.Error())
		}
		cx, cancel := ctx()
		defer cancel()
		a, err := c.client().Account(cx, addr)
		if err != nil {
			return c.fail(err)
		}
		return c.printJSON(map[string]any{"address": a.Address, "dc": a.DC, "pending_dc": a.PendingDC})
	}
	return c.usageErr("unknown dc command " + strconv.Quote(args[0]))
}

func parseDestinations(ds []string) ([]*ledgerpb.Destination, error) {
	var out []*ledgerpb.Destination
	for _, d := range ds {
		p, e, ok := strings.Cut(d, "=")
		if !ok || p == "" || e == "" {
			return nil, fmt.Errorf("--destination %q: want PROTO=ENDPOINT (gwmp, chirpstack_mqtt or http_roaming)", d)
		}
		out = append(out, &ledgerpb.Destination{Protocol: p, Endpoint: e})
	}
	return out, nil
}

// runOUI runs `hexnet oui create|show|devaddr|eui|destination`.
func runOUI(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, ledgerUsage)
		return 2
	}
	c := newCLI("oui "+args[0], stdout, stderr)
	keyPath := c.fs.String("key", "", "OUI owner key file")
	oui := c.fs.Uint64("oui", 0, "OUI id")
	maxCopies := c.fs.Uint("max-copies", 0, "copies of a packet to buy")
	var dests, ranges listFlag
	c.fs.Var(&dests, "destination", "PROTO=ENDPOINT (repeatable)")
	c.fs.Var(&ranges, "range", "START-END hex DevAddrs (repeatable)")
	payer := c.fs.String("payer", "", "payer address (default: the owner)")
	addE := c.fs.Bool("add", false, "add EUI pairs")
	rmE := c.fs.Bool("remove", false, "remove EUI pairs")
	if !c.parse(args[1:]) {
		return 2
	}
	if *maxCopies > 1<<32-1 {
		return c.usageErr("--max-copies out of range")
	}
	if args[0] == "show" {
		cx, cancel := ctx()
		defer cancel()
		if len(c.args) == 0 && *oui == 0 {
			list, err := c.client().OUIs(cx)
			if err != nil {
				return c.fail(err)
			}
			return c.printJSON(list)
		}
		id := *oui
		if len(c.args) == 1 {
			var err error
			if id, err = strconv.ParseUint(c.args[0], 10, 64); err != nil {
				return c.usageErr("OUI id: " + err.Error())
			}
		}
		o, err := c.client().OUI(cx, id)
		if err != nil {
			return c.fail(err)
		}
		return c.printJSON(o)
	}
	k, err := loadKey(*keyPath)
	if err != nil {
		return c.usageErr(err.Error())
	}
	ds, err := parseDestinations(dests)
	if err != nil {
		return c.usageErr(err.Error())
	}
	if args[0] == "create" {
		m := &ledgerpb.CreateOUI{MaxCopies: uint32(*maxCopies), Destinations: ds}
		if *payer != "" {
			pk, err := parseAddr("payer", *payer)
			if err != nil {
				return c.usageErr(err.Error())
			}
			m.Payer = pk.Bytes()
		}
		return c.signAndSubmit(k, func(n uint64) { m.Nonce = n }, m)
	}
	if *oui == 0 {
		return c.usageErr("--oui ID is required")
	}
	m := &ledgerpb.UpdateOUI{Oui: *oui}
	switch args[0] {
	case "devaddr":
		if len(ranges) == 0 {
			return c.usageErr("give at least one --range START-END")
		}
		var rs []*ledgerpb.DevAddrRange
		for _, r := range ranges {
			a, b, ok := strings.Cut(r, "-")
			s, err1 := strconv.ParseUint(a, 16, 32)
			e, err2 := strconv.ParseUint(b, 16, 32)
			if !ok || err1 != nil || err2 != nil {
				return c.usageErr(fmt.Sprintf("--range %q: want hex START-END", r))
			}
			rs = append(rs, &ledgerpb.DevAddrRange{Start: uint32(s), End: uint32(e)})
		}
		m.Change = &ledgerpb.UpdateOUI_DevaddrRanges{DevaddrRanges: &ledgerpb.DevAddrRanges{Ranges: rs}}
	case "eui":
		if *addE == *rmE || len(c.args) == 0 {
			return c.usageErr("give --add or --remove and JOINEUI:DEVEUI pairs")
		}
		var ps []*ledgerpb.EUIPair
		for _, p := range c.args {
			a, b, ok := strings.Cut(p, ":")
			j, err1 := strconv.ParseUint(a, 16, 64)
			d, err2 := strconv.ParseUint(b, 16, 64)
			if !ok || err1 != nil || err2 != nil {
				return c.usageErr(fmt.Sprintf("EUI pair %q: want hex JOINEUI:DEVEUI", p))
			}
			ps = append(ps, &ledgerpb.EUIPair{JoinEui: j, DevEui: d})
		}
		if *addE {
			m.Change = &ledgerpb.UpdateOUI_AddEuis{AddEuis: &ledgerpb.EUIPairs{Pairs: ps}}
		} else {
			m.Change = &ledgerpb.UpdateOUI_RemoveEuis{RemoveEuis: &ledgerpb.EUIPairs{Pairs: ps}}
		}
	case "destination":
		switch {
		case *maxCopies > 0 && len(ds) == 0:
			m.Change = &ledgerpb.UpdateOUI_MaxCopies{MaxCopies: uint32(*maxCopies)}
		case *maxCopies == 0 && len(ds) > 0:
			m.Change = &ledgerpb.UpdateOUI_Destinations{Destinations: &ledgerpb.Destinations{Destinations: ds}}
		default:
			return c.usageErr("give either --destination PROTO=ENDPOINT ... or --max-copies N")
		}
	default:
		return c.usageErr("unknown oui command " + strconv.Quote(args[0]))
	}
	return c.signAndSubmit(k, func(n uint64) { m.Nonce = n }, m)
}

// runRewards runs `hexnet rewards epochs|show|proof|verify`.
func runRewards(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, ledgerUsage)
		return 2
	}
	c := newCLI("rewards "+args[0], stdout, stderr)
	out := c.fs.String("out", "", "write the proofs here")
	oracle := c.fs.String("oracle", "", "oracle address to trust")
	pin := c.fs.String("pin", defaultPinPath(), "file pinning the oracle address")
	proofFile := c.fs.String("proof", "", "verify proofs from this file (written by rewards proof) instead of fetching them")
	if !c.parse(args[1:]) {
		return 2
	}
	cx, cancel := ctx()
	defer cancel()
	switch args[0] {
	case "epochs":
		eps, err := c.client().Epochs(cx)
		if err != nil {
			return c.fail(err)
		}
		return c.printJSON(eps)
	case "show":
		if len(c.args) != 1 {
			return c.usageErr("give the EPOCH")
		}
		n, err := strconv.ParseUint(c.args[0], 10, 64)
		if err != nil {
			return c.usageErr("EPOCH: " + err.Error())
		}
		m, err := c.client().Manifest(cx, n)
		if err != nil {
			return c.fail(err)
		}
		return c.printJSON(m)
	case "proof", "verify":
		if len(c.args) != 2 {
			return c.usageErr("give EPOCH and ADDRESS")
		}
		n, err := strconv.ParseUint(c.args[0], 10, 64)
		if err != nil {
			return c.usageErr("EPOCH: " + err.Error())
		}
		addr, err := identity.ParseAddress(c.args[1])
		if err != nil {
			return c.usageErr(err.Error())
		}
		var ps []*ledgerpb.RewardProof
		if *proofFile != "" && args[0] == "verify" {
			if ps, err = readProofs(*proofFile); err != nil {
				return c.fail(err)
			}
		} else if ps, err = c.client().Proofs(cx, n, addr.Address()); err != nil {
			return c.fail(err)
		}
		if args[0] == "proof" {
			return c.writeProofs(n, ps, *out)
		}
		ok, err := c.oracleKey(cx, *oracle, *pin)
		if err != nil {
			return c.fail(err)
		}
		return c.verify(n, addr, ps, ok)
	}
	return c.usageErr("unknown rewards command " + strconv.Quote(args[0]))
}

func defaultPinPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".hexnet", "oracle.pin")
}

// oracleKey returns the oracle key to trust: the flag, else the pin file,
// else the server's answer, pinned for next time (trust on first use).
func (c *cli) oracleKey(cx context.Context, flagAddr, pin string) (identity.PublicKey, error) {
	if flagAddr != "" {
		return identity.ParseAddress(flagAddr)
	}
	if pin != "" {
		if b, err := os.ReadFile(pin); err == nil {
			pk, err := identity.ParseAddress(strings.TrimSpace(string(b)))
			if err != nil {
				return pk, fmt.Errorf("pin file %s: %w", pin, err)
			}
			return pk, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return identity.PublicKey{}, err
		}
	}
	st, err := c.client().Status(cx)
	if err != nil {
		return identity.PublicKey{}, fmt.Errorf("fetch oracle address: %w", err)
	}
	pk, err := identity.ParseAddress(string(st.Oracle))
	if err != nil {
		return pk, fmt.Errorf("server's oracle address: %w", err)
	}
	if pin == "" {
		return pk, errors.New("no --oracle and no pin file: refusing to trust the server's oracle address unpinned")
	}
	if err := os.MkdirAll(filepath.Dir(pin), 0o700); err != nil {
		return pk, err
	}
	if err := os.WriteFile(pin, []byte(string(st.Oracle)+"\n"), 0o600); err != nil {
		return pk, err
	}
	fmt.Fprintf(c.stderr, "pinned oracle %s in %s (trust on first use; later runs check against it)\n", st.Oracle, pin)
	return pk, nil
}

// proofFileJSON is what `rewards proof --out` writes.
type proofFileJSON struct {
	Epoch  uint64   `json:"epoch"`
	Proofs []string `json:"proofs"` // base64 protobuf ledgerpb.RewardProof
}

func (c *cli) writeProofs(n uint64, ps []*ledgerpb.RewardProof, out string) int {
	f := proofFileJSON{Epoch: n}
	for _, p := range ps {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		if err != nil {
			return c.fail(err)
		}
		f.Proofs = append(f.Proofs, base64.StdEncoding.EncodeToString(b))
	}
	if out == "" {
		return c.printJSON(f)
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "%d proofs written to %s\n", len(ps), out)
	return 0
}

func readProofs(path string) ([]*ledgerpb.RewardProof, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f proofFileJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("proof file: %w", err)
	}
	var ps []*ledgerpb.RewardProof
	for _, s := range f.Proofs {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("proof file: %w", err)
		}
		p := &ledgerpb.RewardProof{}
		if err := proto.Unmarshal(raw, p); err != nil {
			return nil, fmt.Errorf("proof file: %w", err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// verify checks every proof against its signed root and the trusted oracle
// key, and that each is for the asked epoch and address.
func (c *cli) verify(n uint64, addr identity.PublicKey, ps []*ledgerpb.RewardProof, oracle identity.PublicKey) int {
	if len(ps) == 0 {
		return c.fail(errors.New("no proofs to verify"))
	}
	var total uint64
	for _, p := range ps {
		e := p.GetEntry()
		if err := merkle.VerifyProof(e, p, p.GetRoot(), oracle); err != nil {
			return c.fail(fmt.Errorf("entry %d: %w", p.GetIndex(), err))
		}
		if p.GetRoot().GetEpoch() != n {
			return c.fail(fmt.Errorf("proof is for epoch %d, not %d", p.GetRoot().GetEpoch(), n))
		}
		if !bytesEqual(e.GetAccount(), addr[:]) && !bytesEqual(e.GetHotspot(), addr[:]) {
			return c.fail(errors.New("proof is for another address"))
		}
		sum := e.GetBeacon() + e.GetWitness() + e.GetDataTransfer() + e.GetOperations() + e.GetOracles()
		total += sum
		j := ledgerapi.EntryToJSON(e)
		fmt.Fprintf(c.stdout, "OK entry %d/%d account %s hotspot %s beacon %d witness %d data_transfer %d operations %d oracles %d\n",
			p.GetIndex(), p.GetCount(), j.Account, orDash(string(j.Hotspot)), e.GetBeacon(), e.GetWitness(), e.GetDataTransfer(), e.GetOperations(), e.GetOracles())
	}
	fmt.Fprintf(c.stdout, "verified %d entries of epoch %d against root %x signed by oracle %s: total %d\n",
		len(ps), n, ps[0].GetRoot().GetRoot(), oracle.Address(), total)
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
