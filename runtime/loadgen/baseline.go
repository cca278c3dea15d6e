package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"runtime"

	"github.com/valyala/fasthttp"
)

// BaselineReply is what the baseline server answers to every request: the
// restaurant app's main menu, byte for byte as luaivr sends it.
const BaselineReply = `{"clientActionId":"main_menu","callflow":[{"action":"sayAndCapture","params":{"promptMessage":"Welcome to ABC Restaurant, to book a table press 1, to speak to a representative press 2, to hear our restaurant hours press 3.","voiceProfile":"en-US-BenjaminRUS","speed":1,"minDigits":1,"maxDigits":1,"digitTimeout":10000,"overallTimeout":10000,"noOfTries":2}}]}`

// Baseline starts the reference server on 127.0.0.1, on a free port: a bare
// fasthttp.Server whose handler writes BaselineReply and does nothing else,
// so that a run against it measures the HTTP stack luaivr is built on, and the
// load generator itself, with no work behind them. It returns the address
// (host:port) and a function that stops the server.
func Baseline() (addr string, stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("baseline server: %w", err)
	}
	body := []byte(BaselineReply)
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/json") // as luaivr answers
			ctx.SetBody(body)
		},
		NoDefaultDate:        true, // luaivr sends no Date either
		NoDefaultContentType: true,
	}
	go srv.Serve(ln)
	return ln.Addr().String(), srv.Shutdown, nil
}

// Compare runs the load of o against a Baseline server first, then against
// o.Peer when set, then against o.URL, with the same options and the same
// random choices, and reports each and the target's figures as ratios to the
// baseline's and the peer's. The baseline gets the same path as o.URL, so the
// request lines are alike.
func Compare(ctx context.Context, o Options) (Comparison, error) {
	if err := o.normalize(); err != nil {
		return Comparison{}, err
	}
	for _, target := range []string{o.URL, o.Peer} {
		if target == "" {
			continue
		}
		if err := CheckTarget(target, o.AllowRemote); err != nil {
			return Comparison{}, err
		}
		if err := reachable(ctx, target); err != nil { // before spending a run on the baseline
			return Comparison{}, err
		}
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return Comparison{}, err
	}
	addr, stop, err := Baseline()
	if err != nil {
		return Comparison{}, err
	}
	ob := o
	ob.URL = (&url.URL{Scheme: "http", Host: addr, Path: u.Path, RawQuery: u.RawQuery}).String()
	base, err := Run(ctx, ob)
	stop()
	if err != nil {
		return Comparison{}, fmt.Errorf("baseline run: %w", err)
	}
	c := Comparison{Baseline: base}
	if o.Peer != "" {
		op := o
		op.URL = o.Peer
		runtime.GC()
		peer, err := Run(ctx, op)
		if err != nil {
			return Comparison{}, fmt.Errorf("peer run: %w", err)
		}
		c.Peer = &peer
	}
	runtime.GC() // start the target's run with the others' garbage gone
	if c.Target, err = Run(ctx, o); err != nil {
		return Comparison{}, err
	}
	c.Ratios = ratiosOf(c.Target, base)
	if c.Peer != nil {
		r := ratiosOf(c.Target, *c.Peer)
		c.PeerRatios = &r
	}
	return c, nil
}
