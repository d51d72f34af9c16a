// Command attacker performs network techniques for the end-to-end tests:
// a miner's pool login and an internal connect sweep. It only dials the
// loopback addresses it is given.
//
//	attacker miner -o stratum+tcp://127.0.0.1:3333 [--donate-level 1]
//	attacker sweep 127.0.1.2 40 9
package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "attacker:", err)
		os.Exit(1)
	}
}

func loopback(host string) error {
	a, err := netip.ParseAddr(host)
	if err != nil || !a.IsLoopback() {
		return fmt.Errorf("%q: only loopback addresses are allowed", host)
	}
	return nil
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: attacker miner -o URL | sweep START N PORT")
	}
	switch args[0] {
	case "miner":
		var url string
		for i, a := range args {
			if a == "-o" && i+1 < len(args) {
				url = args[i+1]
			}
		}
		hostport := strings.TrimPrefix(strings.TrimPrefix(url, "stratum+tcp://"), "stratum+ssl://")
		host, _, err := net.SplitHostPort(hostport)
		if err != nil {
			return err
		}
		if err := loopback(host); err != nil {
			return err
		}
		c, err := net.DialTimeout("tcp", hostport, 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = fmt.Fprintln(c, `{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"wallet","pass":"x","agent":"xmrig/6.21.0"}}`)
		return err
	case "sweep":
		if len(args) != 4 {
			return fmt.Errorf("usage: attacker sweep START N PORT")
		}
		start, err := netip.ParseAddr(args[1])
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		a := start
		for i := 0; i < n; i++ {
			if err := loopback(a.String()); err != nil {
				return err
			}
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(a.String(), args[3]), 200*time.Millisecond); err == nil {
				c.Close()
			}
			a = a.Next()
		}
		return nil
	}
	return fmt.Errorf("unknown technique %q", args[0])
}
