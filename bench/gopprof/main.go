// gopprof: Go's net/http/pprof on loopback, the baseline of bench/endpoints.sh.
// A light workload keeps the heap profile realistic: 1,000 records a
// second of 1 KiB, the last 4,096 kept (takhind's demo keeps 4 x 1,024).
//
//	gopprof PORT
package main

import (
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"
)

var keep [4096][]byte

func work() {
	tick := time.NewTicker(time.Millisecond)
	for i := 0; ; i++ {
		<-tick.C
		b := make([]byte, 1024)
		b[0] = byte(i)
		keep[i%len(keep)] = b
	}
}

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: gopprof PORT")
	}
	go work()
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Args[1], nil))
}
