package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAgentStaysPureGo fails the build when cmd/hotspot pulls in cgo or H3:
// the agent must cross-compile with CGO_ENABLED=0 for ARM gateways.
func TestAgentStaysPureGo(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{len .CgoFiles}} {{join .Imports \",\"}}", ".")
	// CGO_ENABLED=1 so that files which would use cgo are listed rather than hidden by build constraints.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOOS=linux", "GOARCH=arm64")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		n++
		path, std, cgo := f[0], f[1] == "true", f[2] != "0"
		if strings.Contains(path, "h3-go") {
			t.Errorf("agent imports H3 (%s): H3 is for the network side only", path)
		}
		if std {
			continue
		}
		imports := ""
		if len(f) > 3 {
			imports = "," + f[3] + ","
		}
		if cgo || strings.Contains(imports, ",C,") {
			t.Errorf("agent dependency %s uses cgo", path)
		}
	}
	if n < 10 {
		t.Fatalf("go list returned only %d packages; the check is not looking at the agent", n)
	}
}
