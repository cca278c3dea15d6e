package command

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/luaivr/luaivr/stdlib"
	"github.com/urfave/cli/v2"
)

func editorCommand() *cli.Command {
	return &cli.Command{
		Name:      "editor",
		Usage:     "set up DIR for the Lua Language Server: completion and docs for ivr, json, log and flow tests",
		ArgsUsage: "[DIR]",
		Description: "Writes DIR/.luaivr/luaivr.d.lua (definitions) and DIR/.luarc.json (which points the language\n" +
			"server at them). Works with VS Code's Lua extension, Neovim's lua_ls, and any LuaLS client.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", EnvVars: env("force"), Usage: "overwrite an existing .luarc.json"},
			scriptsFlag,
		},
		Action: func(c *cli.Context) error {
			dir, err := scriptsArg(c, true)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dir, ".luaivr"), 0o755); err != nil {
				return err
			}
			defs := filepath.Join(dir, ".luaivr", "luaivr.d.lua")
			if err := os.WriteFile(defs, stdlib.Definitions, 0o644); err != nil {
				return err
			}
			rc := filepath.Join(dir, ".luarc.json")
			if _, err := os.Stat(rc); err == nil && !c.Bool("force") {
				fmt.Fprintf(c.App.Writer, "wrote %s; %s exists: add \".luaivr\" to its workspace.library (or run with --force)\n", defs, rc)
				return nil
			}
			cfg, _ := json.MarshalIndent(map[string]any{
				"runtime.version":           "Lua 5.1",
				"workspace.library":         []string{".luaivr"},
				"runtime.builtin":           map[string]string{"io": "disable", "os": "disable", "debug": "disable", "package": "disable", "coroutine": "disable"},
				"diagnostics.globals":       []string{"on_call", "on_dtmf", "on_timeout", "on_status", "on_end", "numbers", "fallback"},
				"workspace.checkThirdParty": false,
			}, "", "  ")
			if err := os.WriteFile(rc, append(cfg, '\n'), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "wrote %s and %s: open %s in an editor with the Lua language server\n", defs, rc, dir)
			return nil
		},
	}
}
