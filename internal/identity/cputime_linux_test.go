package identity

import "syscall"

// threadCPU returns the CPU time the calling OS thread has used, in ns. On a
// shared machine it is a steadier measure than wall time: time spent waiting
// for a core is not counted. Lock the goroutine to its thread around its use.
func threadCPU() (int64, bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
