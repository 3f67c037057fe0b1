package ledgerapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
)

// Error is an error answer of the API.
type Error struct {
	Status  int
	Code    string
	Message string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message) }

// ErrBadResponse is returned for an answer the client cannot understand.
var ErrBadResponse = errors.New("ledgerapi: bad response")

const maxResponse = 64 << 20

// Client talks to the ledger API at a base URL such as http://127.0.0.1:8080.
type Client struct {
	base string
	hc   *http.Client
}

// NewClient returns a client of the API at base; hc nil means a client with a 30 s timeout.
func NewClient(base string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(base, "/") + strings.TrimRight(Prefix, "/"), hc: hc}
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			return &Error{Status: resp.StatusCode, Code: CodeInternal, Message: strings.TrimSpace(string(b))}
		}
		return &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return nil
}

// Submit posts signed op bytes and returns the journal height.
func (c *Client) Submit(ctx context.Context, op []byte) (uint64, error) {
	var r SubmitResponse
	err := c.do(ctx, http.MethodPost, "/ops", op, &r)
	return r.Height, err
}

// Status returns the ledger's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodGet, "/status", nil, &s)
	return s, err
}

// Account returns an account.
func (c *Client) Account(ctx context.Context, a identity.Address) (ledger.AccountInfo, error) {
	var out ledger.AccountInfo
	err := c.do(ctx, http.MethodGet, "/accounts/"+string(a), nil, &out)
	return out, err
}

// Hotspot returns a hotspot.
func (c *Client) Hotspot(ctx context.Context, a identity.Address) (ledger.HotspotInfo, error) {
	var out ledger.HotspotInfo
	err := c.do(ctx, http.MethodGet, "/hotspots/"+string(a), nil, &out)
	return out, err
}

// OUI returns an OUI.
func (c *Client) OUI(ctx context.Context, id uint64) (ledger.OUIInfo, error) {
	var out ledger.OUIInfo
	err := c.do(ctx, http.MethodGet, "/ouis/"+strconv.FormatUint(id, 10), nil, &out)
	return out, err
}

// OUIs returns every OUI.
func (c *Client) OUIs(ctx context.Context) ([]ledger.OUIInfo, error) {
	var out []ledger.OUIInfo
	err := c.do(ctx, http.MethodGet, "/ouis", nil, &out)
	return out, err
}

// Epochs returns the closed epochs.
func (c *Client) Epochs(ctx context.Context) ([]EpochJSON, error) {
	var out []EpochJSON
	err := c.do(ctx, http.MethodGet, "/epochs", nil, &out)
	return out, err
}

// Manifest returns a closed epoch's manifest.
func (c *Client) Manifest(ctx context.Context, epoch uint64) (ManifestJSON, error) {
	var out ManifestJSON
	err := c.do(ctx, http.MethodGet, "/epochs/"+strconv.FormatUint(epoch, 10), nil, &out)
	return out, err
}

// Proofs returns the proofs of an account's (or a hotspot's) entries in an
// epoch, decoded but NOT verified: use merkle.VerifyProof with a pinned
// oracle key.
func (c *Client) Proofs(ctx context.Context, epoch uint64, a identity.Address) ([]*ledgerpb.RewardProof, error) {
	var out ProofsJSON
	if err := c.do(ctx, http.MethodGet, "/epochs/"+strconv.FormatUint(epoch, 10)+"/proof/"+string(a), nil, &out); err != nil {
		return nil, err
	}
	ps := make([]*ledgerpb.RewardProof, 0, len(out.Proofs))
	for _, pj := range out.Proofs {
		b, err := base64.StdEncoding.DecodeString(pj.Proof)
		if err != nil {
			return nil, fmt.Errorf("%w: proof: %w", ErrBadResponse, err)
		}
		p := &ledgerpb.RewardProof{}
		if err := proto.Unmarshal(b, p); err != nil {
			return nil, fmt.Errorf("%w: proof: %w", ErrBadResponse, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}
