package identity

import (
	stded25519 "crypto/ed25519"
	"fmt"
	"runtime"
	"testing"
)

// start locks a benchmark to its thread and returns a func to call at its
// end with the number of signatures checked; it reports wall and thread-CPU
// time per signature.
func start(b *testing.B) func(sigs int) {
	runtime.LockOSThread()
	cpu0, ok := threadCPU()
	return func(sigs int) {
		cpu1, _ := threadCPU()
		runtime.UnlockOSThread()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sigs), "ns/sig")
		b.ReportMetric(float64(sigs)/b.Elapsed().Seconds(), "sigs/s")
		if ok {
			b.ReportMetric(float64(cpu1-cpu0)/float64(sigs), "cpu-ns/sig")
		}
	}
}

// BenchmarkVerify compares the verification paths of DESIGN.md's hot path:
// crypto/ed25519, voi under ZIP-215 (PublicKey.Verify), voi with a cached
// expanded key (ExpandedKey.Verify) and voi batches (Batch). Batch
// sub-benchmarks report ns/sig and sigs/s so they compare with single ones;
// cpu-ns/sig (Linux) is the thread's CPU time, which a busy machine does not
// inflate the way it inflates wall time.
//
//	go test -run x -bench Verify -benchtime=2s ./internal/identity/
func BenchmarkVerify(b *testing.B) {
	const nKeys = 64
	es := make([]signedEntry, 256)
	stdKeys := make([]stded25519.PublicKey, len(es))
	for i := range es {
		k := testKey(b, byte(i%nKeys))
		msg := fmt.Appendf(nil, "a PacketUp-sized message of about one hundred bytes, number %04d ..........................", i)
		es[i] = signedEntry{k.Public(), msg, k.SignBytes(msg)}
		stdKeys[i] = stded25519.PublicKey(k.Public().Bytes())
	}
	eks := make([]*ExpandedKey, len(es))
	for i, e := range es {
		ek, err := Expand(e.pk)
		if err != nil {
			b.Fatal(err)
		}
		eks[i] = ek
	}
	b.Run("stdlib", func(b *testing.B) {
		perSig, i := start(b), 0
		for b.Loop() {
			e := es[i%len(es)]
			if !stded25519.Verify(stdKeys[i%len(es)], e.msg, e.sig) {
				b.Fatal("invalid")
			}
			i++
		}
		perSig(i)
	})
	b.Run("voi_zip215", func(b *testing.B) {
		perSig, i := start(b), 0
		for b.Loop() {
			e := es[i%len(es)]
			if !e.pk.Verify(e.msg, e.sig) {
				b.Fatal("invalid")
			}
			i++
		}
		perSig(i)
	})
	b.Run("voi_expanded", func(b *testing.B) {
		perSig, i := start(b), 0
		for b.Loop() {
			e := es[i%len(es)]
			if !eks[i%len(es)].Verify(e.msg, e.sig) {
				b.Fatal("invalid")
			}
			i++
		}
		perSig(i)
	})
	for _, n := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("voi_batch_%d", n), func(b *testing.B) {
			perSig, sigs := start(b), 0
			for b.Loop() {
				bv := NewBatch(n)
				for _, e := range es[:n] {
					bv.Add(e.pk, e.msg, e.sig)
				}
				if ok, _ := bv.Verify(); !ok {
					b.Fatal("invalid")
				}
				sigs += n
			}
			perSig(sigs)
		})
		b.Run(fmt.Sprintf("voi_batch_expanded_%d", n), func(b *testing.B) {
			perSig, sigs := start(b), 0
			for b.Loop() {
				bv := NewBatch(n)
				for i, e := range es[:n] {
					bv.AddExpanded(eks[i], e.msg, e.sig)
				}
				if ok, _ := bv.Verify(); !ok {
					b.Fatal("invalid")
				}
				sigs += n
			}
			perSig(sigs)
		})
	}
	// A batch of 256 with one bad signature falls back to checking each.
	b.Run("voi_batch_256_one_bad", func(b *testing.B) {
		perSig, sigs := start(b), 0
		for b.Loop() {
			bv := NewBatch(256)
			for i, e := range es {
				if i == 100 {
					bv.Add(e.pk, e.msg[1:], e.sig)
					continue
				}
				bv.Add(e.pk, e.msg, e.sig)
			}
			if ok, _ := bv.Verify(); ok {
				b.Fatal("valid")
			}
			sigs += 256
		}
		perSig(sigs)
	})
}

// BenchmarkMessage measures a whole signed PacketUp check: signing bytes plus
// verification, uncached and through a KeyCache.
func BenchmarkMessage(b *testing.B) {
	k := testKey(b, 1)
	m := samplePacketUp()
	if err := k.Sign(m); err != nil {
		b.Fatal(err)
	}
	b.Run("VerifySigned", func(b *testing.B) {
		done, n := start(b), 0
		for b.Loop() {
			if _, err := VerifySigned(m); err != nil {
				b.Fatal(err)
			}
			n++
		}
		done(n)
	})
	b.Run("KeyCache", func(b *testing.B) {
		c := NewKeyCache(16)
		done, n := start(b), 0
		for b.Loop() {
			if _, err := c.VerifySigned(m); err != nil {
				b.Fatal(err)
			}
			n++
		}
		done(n)
	})
	b.Run("Expand", func(b *testing.B) {
		for b.Loop() {
			if _, err := Expand(k.Public()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
