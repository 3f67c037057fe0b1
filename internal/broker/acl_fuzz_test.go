package broker

import (
	"strings"
	"testing"

	"github.com/hexnet/hexnet/internal/wire"
)

// FuzzACL feeds hostile topics and filters to the hotspot rules: they must
// never panic, never grant a wildcard other than release/+, and never let a
// hotspot touch a hotspot/{addr}/ topic of another address.
func FuzzACL(f *testing.F) {
	const own = "13zkrtJaTur9oZhCWgJFs9nWZBpP91oKoJm718SycV3EPLUEu2j"
	f.Fuzz(func(t *testing.T, topic string) {
		pub := hotspotMayPublish(own, topic)
		read := hotspotMayRead(own, topic)
		if (pub || read) && !strings.HasPrefix(topic, wire.Prefix) {
			t.Fatalf("allowed %q outside %s", topic, wire.Prefix)
		}
		if pub && strings.ContainsAny(topic, "+#") {
			t.Fatalf("allowed publishing to wildcard %q", topic)
		}
		if read && strings.ContainsAny(topic, "+#") && topic != wire.ReleaseFilter {
			t.Fatalf("allowed wildcard filter %q", topic)
		}
		if rest, ok := strings.CutPrefix(topic, wire.Prefix+"hotspot/"); ok && (pub || read) {
			if addr, _, _ := strings.Cut(rest, "/"); addr != own {
				t.Fatalf("allowed %q of another hotspot", topic)
			}
		}
	})
}
