// Command wharf is a self-hosted Python package registry.
package main

import (
	"context"
	"os"

	"github.com/wharf-dev/wharf/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
	}))
}
