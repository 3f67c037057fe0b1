package main

import (
	"fmt"
	"io"

	"github.com/hexnet/hexnet/hotspot"
)

// runAgent runs the agent until SIGINT/SIGTERM.
func runAgent(cfg hotspot.Config, version string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "hotspot run: the agent's run loop arrives with the hotspot agent issue")
	return 1
}
