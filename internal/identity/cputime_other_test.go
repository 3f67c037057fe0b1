//go:build !linux

package identity

// threadCPU is only measured on Linux.
func threadCPU() (int64, bool) { return 0, false }
