// rawhttp sends one request, byte for byte, over a real loopback socket
// and prints what came back: tests of what a browser or curl would never
// send (NUL bytes, bad framing, half-closes, resets).
//
//	rawhttp [flags] PORT REQUEST
//
// REQUEST takes the escapes \r \n \t \\ and \xNN. Prints the status code
// of the answer, or "closed" when the connection ended without one; with
// -body, then the body. Flags:
//
//	-halfclose     shutdown(SHUT_WR) once the request is sent (nc -N)
//	-reset-after S close with SO_LINGER 0 (a reset) S seconds after sending,
//	               without reading; prints "reset"
//	-timeout S     give up reading after S seconds (default 30)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

func unescape(s string) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			out = append(out, s[i])
			continue
		}
		i++
		switch s[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'x':
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				fmt.Fprintln(os.Stderr, "rawhttp: bad \\x escape")
				os.Exit(2)
			}
			out = append(out, byte(v))
			i += 2
		default:
			out = append(out, s[i])
		}
	}
	return out
}

func main() {
	halfclose := flag.Bool("halfclose", false, "shutdown(SHUT_WR) after the request")
	resetAfter := flag.Float64("reset-after", -1, "reset the connection after S seconds")
	body := flag.Bool("body", false, "print the body too")
	timeout := flag.Float64("timeout", 30, "read timeout in seconds")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: rawhttp [flags] PORT REQUEST")
		os.Exit(2)
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawhttp:", err)
		os.Exit(2)
	}
	tcp := conn.(*net.TCPConn)
	if _, err := tcp.Write(unescape(flag.Arg(1))); err != nil {
		fmt.Println("closed")
		return
	}
	if *resetAfter >= 0 {
		time.Sleep(time.Duration(*resetAfter * float64(time.Second)))
		tcp.SetLinger(0)
		tcp.Close()
		fmt.Println("reset")
		return
	}
	if *halfclose {
		tcp.CloseWrite()
	}
	tcp.SetReadDeadline(time.Now().Add(time.Duration(*timeout * float64(time.Second))))
	answer, _ := io.ReadAll(tcp)
	tcp.Close()
	var status int
	if _, err := fmt.Sscanf(string(answer), "HTTP/1.%d %d", new(int), &status); err != nil {
		fmt.Println("closed")
		return
	}
	fmt.Println(status)
	if *body {
		if i := bytes.Index(answer, []byte("\r\n\r\n")); i >= 0 {
			os.Stdout.Write(answer[i+4:])
		}
	}
}
