// goprof writes profiles made by Go's own runtime/pprof, for takhin-profiler's
// tests to read next to `go tool pprof`: a CPU profile of recursive and
// inlined work, a heap profile, and mutex and block profiles.
//
//	goprof OUTDIR
package main

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

var sink []byte
var acc uint64

//go:noinline
func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func mix(x uint64) uint64 { return x*6364136223846793005 + 1442695040888963407 }

//go:noinline
func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 1000; i++ {
			acc = mix(acc)
		}
	}
}

//go:noinline
func allocate() {
	for i := 0; i < 200; i++ {
		sink = make([]byte, 64<<10)
	}
}

func contend() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				mu.Lock()
				time.Sleep(100 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func write(dir, name string, p *pprof.Profile) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := p.WriteTo(f, 0); err != nil {
		panic(err)
	}
}

func main() {
	dir := os.Args[1]
	runtime.MemProfileRate = 4096
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	f, err := os.Create(filepath.Join(dir, "go_cpu.pb.gz"))
	if err != nil {
		panic(err)
	}
	pprof.StartCPUProfile(f)
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		fib(27)
		spin(20 * time.Millisecond)
		allocate()
	}
	pprof.StopCPUProfile()
	f.Close()
	contend()
	runtime.GC()
	write(dir, "go_heap.pb.gz", pprof.Lookup("heap"))
	write(dir, "go_mutex.pb.gz", pprof.Lookup("mutex"))
	write(dir, "go_block.pb.gz", pprof.Lookup("block"))
}
