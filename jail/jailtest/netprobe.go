package jailtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// NetProbe is a Python program that tries each (label, host, port) of
// targets (port 0: resolve host by DNS) and prints one JSON object: label
// -> "ok <what it got>" or the error's name (and errno). With listen > 0
// it then listens on that TCP port of every address, prints "listening"
// and sleeps hold seconds, so that the test can try to reach it.
func NetProbe(targets [][]any, listen int, hold float64) string {
	b, _ := json.Marshal(targets)
	return fmt.Sprintf(`import json, socket, time
out = {}
for label, host, port in json.loads(%q):
    try:
        if port == 0:
            out[label] = "ok " + socket.gethostbyname(host)
            continue
        with socket.create_connection((host, port), timeout=3) as s:
            s.settimeout(3)
            out[label] = "ok " + s.recv(64).decode()
    except OSError as e:
        out[label] = type(e).__name__ + (" errno %%s" %% e.errno if e.errno else "")
print(json.dumps(out), flush=True)
if %d:
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", %d))
    l.listen()
    print("listening", flush=True)
    time.sleep(%g)
`, string(b), listen, listen, hold)
}

// GreetOn opens a TCP listener on a free port of addr (in the test's own
// namespace) whose connections get greeting (see Greet), and returns the
// port. t's cleanup closes it.
func GreetOn(t testing.TB, addr netip.Addr, greeting string) int {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go Greet(ln, greeting)
	return ln.Addr().(*net.TCPAddr).Port
}

// Listeners opens the namespace's two listeners of a reach matrix, at a
// free port of Addr (greeting "outside") and of LinkLocal (greeting
// "link-local"), and returns their ports. It fails t unless the host
// itself reaches the link-local one: a run that does not is stopped by
// its own routes only.
func (o *Outside) Listeners(t testing.TB) (outPort, llPort int) {
	t.Helper()
	outPort = o.Listen(t, netip.AddrPortFrom(o.Addr, 0).String(), "outside").Addr().(*net.TCPAddr).Port
	llPort = o.Listen(t, netip.AddrPortFrom(o.LinkLocal, 0).String(), "link-local").Addr().(*net.TCPAddr).Port
	c, err := net.DialTimeout("tcp", netip.AddrPortFrom(o.LinkLocal, uint16(llPort)).String(), 3*time.Second)
	if err != nil {
		t.Fatalf("the host cannot reach the outside's link-local listener: %v", err)
	}
	c.Close()
	return outPort, llPort
}
