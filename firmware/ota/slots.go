package ota

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Slot layout under DataDir/slots:
//
//	a/hotspot, a/version       slot A (flash installs the first version here)
//	b/hotspot, b/version       slot B
//	current -> a               symlink to the active slot, switched by rename
//	state.json                 {"current","previous","pending","boots"}
//
// A switch writes state.json (pending, boots 0) and then renames a fresh
// symlink over "current"; both steps are atomic renames, and Boot repairs a
// symlink that disagrees with state.json after a crash between them.
const (
	slotsDir    = "slots"
	stateFile   = "state.json"
	currentLink = "current"
	// BinaryName is the agent's file name inside a slot.
	BinaryName = "hotspot"
	// VersionFile holds the slot's version.
	VersionFile = "version"
)

// ErrNoSlot is returned when no slot holds an agent.
var ErrNoSlot = errors.New("ota: no installed slot")

// State is the persisted slot state.
type State struct {
	Current  string `json:"current"`  // "a" or "b"
	Previous string `json:"previous"` // slot to roll back to, "" when none
	Pending  bool   `json:"pending"`  // Current has not yet passed its health check
	Boots    int    `json:"boots"`    // starts of Current while pending
}

// Slots manages the A/B slots under a data directory.
type Slots struct{ dir string }

// NewSlots returns the slots under dataDir/slots (nothing is touched).
func NewSlots(dataDir string) *Slots { return &Slots{dir: filepath.Join(dataDir, slotsDir)} }

// Dir returns the directory of slot name.
func (s *Slots) Dir(name string) string { return filepath.Join(s.dir, name) }

// Binary returns the agent path in slot name.
func (s *Slots) Binary(name string) string { return filepath.Join(s.dir, name, BinaryName) }

// Version returns the version recorded in slot name.
func (s *Slots) Version(name string) string {
	b, err := os.ReadFile(filepath.Join(s.dir, name, VersionFile))
	if err != nil {
		return ""
	}
	return string(trimSpace(b))
}

func other(slot string) string {
	if slot == "a" {
		return "b"
	}
	return "a"
}

// State reads state.json; without one, slot a is current when it holds an
// agent (as flash leaves it).
func (s *Slots) State() (State, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(s.Binary("a")); err != nil {
			return State{}, fmt.Errorf("%w in %s", ErrNoSlot, s.dir)
		}
		return State{Current: "a"}, nil
	}
	if err != nil {
		return State{}, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil || (st.Current != "a" && st.Current != "b") ||
		(st.Previous != "" && st.Previous != "a" && st.Previous != "b") {
		return State{}, fmt.Errorf("ota: corrupt %s", filepath.Join(s.dir, stateFile))
	}
	return st, nil
}

// save writes state.json atomically and points "current" at st.Current.
func (s *Slots) save(st State) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(s.dir, stateFile), b, 0o600); err != nil {
		return err
	}
	return s.link(st.Current)
}

// link switches the "current" symlink to slot by renaming a fresh link over it.
func (s *Slots) link(slot string) error {
	cur := filepath.Join(s.dir, currentLink)
	if t, err := os.Readlink(cur); err == nil && t == slot {
		return nil
	}
	tmp := cur + ".new"
	os.Remove(tmp)
	if err := os.Symlink(slot, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, cur); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(s.dir)
}

// Prepare empties the inactive slot and returns its name and directory.
func (s *Slots) Prepare() (string, string, error) {
	st, err := s.State()
	if errors.Is(err, ErrNoSlot) {
		st = State{Current: "b"} // nothing installed: fill a
	} else if err != nil {
		return "", "", err
	}
	slot := other(st.Current)
	dir := s.Dir(slot)
	if err := os.RemoveAll(dir); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	return slot, dir, nil
}

// Switch makes slot current, pending its health check.
func (s *Slots) Switch(slot string) error {
	if slot != "a" && slot != "b" {
		return fmt.Errorf("ota: bad slot %q", slot)
	}
	if _, err := os.Stat(s.Binary(slot)); err != nil {
		return fmt.Errorf("%w: slot %s: %w", ErrNoSlot, slot, err)
	}
	st, err := s.State()
	if err != nil && !errors.Is(err, ErrNoSlot) {
		return err
	}
	prev := st.Current
	if prev == slot || errors.Is(err, ErrNoSlot) {
		prev = ""
	}
	return s.save(State{Current: slot, Previous: prev, Pending: prev != ""})
}

// Commit marks the current slot healthy.
func (s *Slots) Commit() error {
	st, err := s.State()
	if err != nil {
		return err
	}
	st.Pending, st.Boots = false, 0
	return s.save(st)
}

// Rollback makes the previous slot current again. It returns false when
// there is nothing to roll back to.
func (s *Slots) Rollback() (bool, error) {
	st, err := s.State()
	if err != nil {
		return false, err
	}
	if st.Previous == "" {
		st.Pending, st.Boots = false, 0
		return false, s.save(st)
	}
	return true, s.save(State{Current: st.Previous, Previous: st.Current})
}

// BootResult is what Boot decided.
type BootResult struct {
	Binary     string // agent to run: the current slot's
	Slot       string
	Version    string
	RolledBack bool // the pending slot used up its boots and was abandoned
}

// Boot is called once per agent start, before anything else (by the agent
// installed at /usr/bin/hotspot, which then execs BootResult.Binary when it
// is not itself). While the current slot is pending it counts the start; a
// slot started more than maxBoots times without passing its health check is
// rolled back, so a version that crashes before it can even check its health
// still returns to the previous one.
func (s *Slots) Boot(maxBoots int) (BootResult, error) {
	st, err := s.State()
	if err != nil {
		return BootResult{}, err
	}
	rolled := false
	if st.Pending {
		st.Boots++
		if st.Boots > maxBoots && st.Previous != "" {
			st = State{Current: st.Previous, Previous: st.Current}
			rolled = true
		}
	}
	if err := s.save(st); err != nil {
		return BootResult{}, err
	}
	return BootResult{Binary: s.Binary(st.Current), Slot: st.Current, Version: s.Version(st.Current), RolledBack: rolled}, nil
}

func writeAtomic(name string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	return syncDir(filepath.Dir(name))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Sync() // best effort: not every filesystem supports it
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
