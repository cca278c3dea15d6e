package command

import (
	"fmt"
	"strings"
	"time"

	"github.com/luaivr/luaivr/runtime/explore"
	"github.com/luaivr/luaivr/runtime/phone"
	clock "github.com/luaivr/luaivr/stdlib/time"
	"github.com/urfave/cli/v2"
)

// atFlag is when simulate's call, and the first call check and graph
// explore, starts on the virtual clock.
var atFlag = &cli.StringFlag{Name: "at", EnvVars: env("at"), Usage: "start at `TIME`: RFC 3339 (2026-01-05T10:00:00+08:00) or 2026-01-05 10:00 in --zone (UTC without it); default " +
	phone.DefaultStart.Format("2006-01-02 15:04 MST") + " (17:00 in Singapore)"}

// inputFlag gives check and graph the keys a caller knows and the explorer
// cannot guess.
var inputFlag = &cli.StringSliceFlag{Name: "input", EnvVars: env("input"), Usage: "also try `POSITION=KEYS` at the prompt of that clientActionId or menu, e.g. pin=4321 (repeatable; the script's check_inputs table adds to them)"}

// startAt reads --at; without it, the line's default start.
func startAt(c *cli.Context) (time.Time, error) {
	if !c.IsSet("at") {
		return phone.DefaultStart, nil
	}
	loc := time.UTC
	if zone := c.String("zone"); zone != "" {
		var err error
		if loc, err = clock.LoadZone(zone); err != nil {
			return time.Time{}, fmt.Errorf("--zone: %w", err)
		}
	}
	t, err := clock.ParseTime(c.String("at"), loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at: %w", err)
	}
	return t, nil
}

// seedInputs reads --input POSITION=KEYS, repeated.
func seedInputs(c *cli.Context) (map[string][]string, error) {
	seeds := map[string][]string{}
	for _, s := range c.StringSlice("input") {
		pos, keys, ok := strings.Cut(s, "=")
		if !ok || pos == "" || keys == "" {
			return nil, fmt.Errorf("--input %q: write POSITION=KEYS, the clientActionId or menu id of a prompt and what to press there (pin=4321)", s)
		}
		if bad := strings.Trim(keys, "0123456789*#"); bad != "" {
			return nil, fmt.Errorf("--input %q: a caller can press 0-9, * and #, not %q", s, bad)
		}
		seeds[pos] = append(seeds[pos], keys)
	}
	return seeds, nil
}

// exploreFrom sets where check and graph start exploring, and their seeds.
func exploreFrom(c *cli.Context, opts *explore.Options) (err error) {
	if opts.Start, err = startAt(c); err != nil {
		return err
	}
	opts.Inputs, err = seedInputs(c)
	return err
}
