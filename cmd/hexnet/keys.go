package main

import (
	"io"

	"github.com/hexnet/hexnet/internal/keycmd"
)

func runKeys(args []string, stdout, stderr io.Writer) int {
	return keycmd.Run("hexnet", args, stdout, stderr)
}
