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
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "productapi:", err)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
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
	case "help", "-h", "--help":
		fmt.Fprint(os.Stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

const usage = `usage:
  productapi [serve]                                     run the API (default)
  productapi migrate                                     apply database migrations and exit
  productapi create-admin [--email E] [--password-file F]
                                                         create or promote an admin
  productapi import --products FILE [--categories FILE]  import Kaggle CSV files
  productapi gen --rows N --out DIR [--seed S]           write a generated catalogue
  productapi healthcheck                                 exit 0 if the local server answers /healthz
`

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
