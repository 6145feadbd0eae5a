// Command productapi is the reference deployment of cachefront: a product
// catalogue API (the Amazon products 2023 schema) with a Redis cache in front
// of SQLite or PostgreSQL.
//
// Usage:
//
//	productapi [serve]                           run the API (default)
//	productapi migrate                           apply database migrations and exit
//	productapi create-admin [--email E] [--password-file F]
//	                                             create or promote an admin (email from --email,
//	                                             else ADMIN_EMAIL; password from the file, else
//	                                             ADMIN_PASSWORD, else stdin)
//	productapi import --products FILE [--categories FILE]
//	productapi gen --rows N --out DIR [--seed S]
//	productapi healthcheck                       exit 0 if the server on ADDR answers /healthz
//
// Configuration comes from the environment and an optional .env file; see
// the README for every variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "productapi:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the process status for the error run returned: 0 for none
// and for a command's -h (its flag set has printed its usage), 1 otherwise.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

// run runs the command named by args[0] (serve when there is none, or when
// args starts with a flag); help, -h and --help write the usage to stdout.
func run(args []string, stdout io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "serve":
		return serve(ctx, args)
	case "migrate":
		return migrate(ctx, args)
	case "create-admin":
		return createAdmin(ctx, args, os.Stdin)
	case "import":
		return importCmd(ctx, args)
	case "gen":
		return genCmd(args)
	case "healthcheck":
		return healthcheck(ctx)
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

const usage = `usage:
  productapi [serve]                                     run the API (default)
  productapi migrate                                     apply database migrations and exit
  productapi create-admin [--email E] [--password-file F]
                                                         create or promote an admin (email from --email,
                                                         else ADMIN_EMAIL; password from the file, else
                                                         ADMIN_PASSWORD, else stdin)
  productapi import --products FILE [--categories FILE]  import Kaggle CSV files, with a progress bar
  productapi gen --rows N --out DIR [--seed S]           write a generated catalogue in the Kaggle format
  productapi healthcheck                                 exit 0 if the server on ADDR answers /healthz
  productapi help                                        print this text (also -h, --help)

"productapi COMMAND -h" describes the flags of COMMAND. Configuration comes
from the environment and an optional .env file (see the README).
`

// newFlagSet returns the flag set of command, whose -h prints synopsis
// and the flags.
func newFlagSet(command, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: productapi %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
