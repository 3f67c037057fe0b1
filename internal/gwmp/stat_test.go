package gwmp

import (
	"errors"
	"testing"
	"time"
)

func TestStatTime(t *testing.T) {
	want := time.Date(2014, 1, 12, 8, 59, 28, 0, time.UTC)
	var s Stat
	s.SetTime(want.In(time.FixedZone("CET", 3600)))
	if s.Time != "2014-01-12 08:59:28 GMT" {
		t.Fatalf("SetTime wrote %q", s.Time)
	}
	tests := []struct {
		in string
		ok bool
	}{
		{"2014-01-12 08:59:28 GMT", true},
		{"2014-01-12 08:59:28 UTC", true},
		{"2014-01-12T08:59:28Z", true},
		{"12/01/2014", false},
		{"", false},
	}
	for _, tc := range tests {
		s.Time = tc.in
		got, err := s.ParseTime()
		if tc.ok != (err == nil) || (tc.ok && !got.Equal(want)) {
			t.Errorf("ParseTime(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrFieldRange) {
			t.Errorf("ParseTime(%q) error %v not ErrFieldRange", tc.in, err)
		}
	}
}

func TestStatValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Stat)
		ok     bool
	}{
		{"zero", func(*Stat) {}, true},
		{"located", func(s *Stat) { s.SetLocation(-33.9, 151.2, 58) }, true},
		{"poles", func(s *Stat) { s.SetLocation(-90, 180, -1000) }, true},
		{"lat 90.1", func(s *Stat) { s.SetLocation(90.1, 0, 0) }, false},
		{"long -181", func(s *Stat) { s.SetLocation(0, -181, 0) }, false},
		{"alti too low", func(s *Stat) { s.SetLocation(0, 0, MinAltitude-1) }, false},
		{"alti too high", func(s *Stat) { s.SetLocation(0, 0, MaxAltitude+1) }, false},
		{"ackr 100", func(s *Stat) { s.ACKR = 100 }, true},
		{"ackr -1", func(s *Stat) { s.ACKR = -1 }, false},
		{"long time", func(s *Stat) { s.Time = string(make([]byte, 65)) }, false},
	}
	for _, tc := range tests {
		var s Stat
		tc.mutate(&s)
		err := s.Validate()
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrFieldRange)) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
