package routes

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hexnet/hexnet/internal/store"
)

func testRoute(id string) Route {
	return Route{
		ID: id, OUI: 1, Payer: "payer-" + id, MaxCopies: 2, Active: true,
		Destinations: []Destination{{Protocol: ProtocolGWMP, Address: "127.0.0.1:1700"}},
	}
}

func ids(rs []*Route) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestTableDevAddr(t *testing.T) {
	a := testRoute("a")
	a.DevAddrRanges = []DevAddrRange{{0x48000000, 0x480000ff}, {0x50000000, 0x50000000}}
	b := testRoute("b")
	b.DevAddrRanges = []DevAddrRange{{0x48000080, 0x48000100}}
	c := testRoute("c")
	c.DevAddrRanges = []DevAddrRange{{0xffffff00, 0xffffffff}}
	tb := NewTable([]*Route{&a, &b, &c})
	cases := []struct {
		addr uint32
		want []string
	}{
		{0x47ffffff, nil},
		{0x48000000, []string{"a"}},
		{0x4800007f, []string{"a"}},
		{0x48000080, []string{"a", "b"}},
		{0x480000ff, []string{"a", "b"}},
		{0x48000100, []string{"b"}},
		{0x48000101, nil},
		{0x50000000, []string{"a"}},
		{0x50000001, nil},
		{0xffffffff, []string{"c"}},
		{0, nil},
	}
	for _, tc := range cases {
		got := ids(tb.ByDevAddr(tc.addr))
		if len(got) != len(tc.want) {
			t.Errorf("%08x: got %v want %v", tc.addr, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%08x: got %v want %v", tc.addr, got, tc.want)
			}
		}
	}
}

func TestTableEUI(t *testing.T) {
	a := testRoute("a")
	a.EUIs = []EUIPair{{JoinEUI: 0x10, DevEUI: 0x20}}
	b := testRoute("b")
	b.EUIs = []EUIPair{{JoinEUI: 0x10, DevEUI: 0}} // wildcard
	tb := NewTable([]*Route{&a, &b})
	if got := ids(tb.ByEUI(0x10, 0x20)); len(got) != 2 {
		t.Fatalf("exact+wildcard: %v", got)
	}
	if got := ids(tb.ByEUI(0x10, 0x21)); len(got) != 1 || got[0] != "b" {
		t.Fatalf("wildcard: %v", got)
	}
	if got := tb.ByEUI(0x11, 0x20); len(got) != 0 {
		t.Fatalf("other join eui: %v", ids(got))
	}
}

func TestCodecRoundTripAndRejects(t *testing.T) {
	r := testRoute("r1")
	r.DevAddrRanges = []DevAddrRange{{1, 2}}
	r.EUIs = []EUIPair{{JoinEUI: 0xaabbccddeeff0011, DevEUI: 0}}
	r.SessionKeys = []Key128{{1, 2, 3}}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"dev_eui":"*"`)) || !bytes.Contains(b, []byte(`"start":"00000001"`)) {
		t.Fatalf("encoding: %s", b)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := back.Encode()
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip:\n%s\n%s", b, b2)
	}
	bad := map[string]string{
		"unknown field":  `{"id":"x","payer":"p","max_copies":1,"destinations":[{"protocol":"gwmp","address":"h:1"}],"zzz":1}`,
		"zero copies":    `{"id":"x","payer":"p","max_copies":0,"destinations":[{"protocol":"gwmp","address":"h:1"}]}`,
		"no dest":        `{"id":"x","payer":"p","max_copies":1,"destinations":[]}`,
		"bad port":       `{"id":"x","payer":"p","max_copies":1,"destinations":[{"protocol":"gwmp","address":"h:0"}]}`,
		"bad proto":      `{"id":"x","payer":"p","max_copies":1,"destinations":[{"protocol":"ftp","address":"h:1"}]}`,
		"reversed range": `{"id":"x","payer":"p","max_copies":1,"dev_addr_ranges":[{"start":"00000002","end":"00000001"}],"destinations":[{"protocol":"gwmp","address":"h:1"}]}`,
		"short devaddr":  `{"id":"x","payer":"p","max_copies":1,"dev_addr_ranges":[{"start":"02","end":"00000001"}],"destinations":[{"protocol":"gwmp","address":"h:1"}]}`,
		"double wild":    `{"id":"x","payer":"p","max_copies":1,"euis":[{"join_eui":"*","dev_eui":"*"}],"destinations":[{"protocol":"gwmp","address":"h:1"}]}`,
		"trailing":       `{"id":"x","payer":"p","max_copies":1,"destinations":[{"protocol":"gwmp","address":"h:1"}]} {}`,
		"slash id":       `{"id":"x/y","payer":"p","max_copies":1,"destinations":[{"protocol":"gwmp","address":"h:1"}]}`,
		"roaming scheme": `{"id":"x","payer":"p","max_copies":1,"destinations":[{"protocol":"http_roaming","address":"ftp://h/"}]}`,
		"not json":       `nope`,
	}
	for name, in := range bad {
		if _, err := Decode([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
}

func TestServicePersistsAndLocks(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sp := db.Prefix("router/").Prefix("routes/")
	s, err := Open(sp)
	if err != nil {
		t.Fatal(err)
	}
	r := testRoute("r1")
	r.DevAddrRanges = []DevAddrRange{{10, 20}}
	if err := s.Put(r); err != nil {
		t.Fatal(err)
	}
	old := s.Table()
	if err := s.SetPayerLocked(r.Payer, true); err != nil {
		t.Fatal(err)
	}
	if old.ByDevAddr(15)[0].Locked {
		t.Fatal("old table mutated")
	}
	if !s.Table().ByDevAddr(15)[0].Locked {
		t.Fatal("new table not locked")
	}
	s2, err := Open(sp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Get("r1")
	if err != nil || !got.Locked || got.DevAddrRanges[0].End != 20 {
		t.Fatalf("reloaded %+v %v", got, err)
	}
	if err := s2.Delete("r1"); err != nil {
		t.Fatal(err)
	}
	if err := s2.Delete("r1"); !IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
	s3, _ := Open(sp)
	if len(s3.List()) != 0 {
		t.Fatal("delete not persisted")
	}
}

func TestAdminHandler(t *testing.T) {
	s, _ := Open(nil)
	srv := httptest.NewServer(AdminHandler(s, "secret"))
	defer srv.Close()
	do := func(method, path, body, token string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewBufferString(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	r := testRoute("r9")
	body, _ := json.Marshal(r)
	if code, _ := do("PUT", "/routes/r9", string(body), ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, msg := do("PUT", "/routes/r9", string(body), "secret"); code != 200 {
		t.Fatalf("put: %d %s", code, msg)
	}
	if code, _ := do("PUT", "/routes/other", string(body), "secret"); code != 400 {
		t.Fatalf("id mismatch: %d", code)
	}
	if code, _ := do("PUT", "/routes/r9", `{"id":"r9"}`, "secret"); code != 400 {
		t.Fatalf("invalid: %d", code)
	}
	code, msg := do("GET", "/routes", "", "secret")
	var list []Route
	if code != 200 || json.Unmarshal([]byte(msg), &list) != nil || len(list) != 1 || list[0].ID != "r9" {
		t.Fatalf("list: %d %s", code, msg)
	}
	if code, _ := do("DELETE", "/routes/r9", "", "secret"); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := do("GET", "/routes/r9", "", "secret"); code != 404 {
		t.Fatalf("get deleted: %d", code)
	}
}

func FuzzDecode(f *testing.F) {
	r := testRoute("seed")
	r.DevAddrRanges = []DevAddrRange{{1, 2}}
	r.EUIs = []EUIPair{{JoinEUI: 1, DevEUI: 0}}
	b, _ := r.Encode()
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := Decode(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		out, err := r.Encode()
		if err != nil {
			t.Fatalf("decoded route does not encode: %v", err)
		}
		r2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		NewTable([]*Route{r, r2}).ByDevAddr(1)
	})
}
