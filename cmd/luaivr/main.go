// Command luaivr runs IVR apps written in Lua for the 8x8 Voice Callflows API.
package main

import (
	"os"

	"github.com/luaivr/luaivr/cmd/luaivr/command"
)

func main() { os.Exit(command.Main(os.Args)) }
