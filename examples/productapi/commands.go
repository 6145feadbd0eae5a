package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/cachefront/cachefront/examples/productapi/internal/app"
	"github.com/cachefront/cachefront/examples/productapi/internal/config"
	"github.com/cachefront/cachefront/examples/productapi/internal/db"
	"github.com/cachefront/cachefront/examples/productapi/internal/users"
)

func loadConfig() (*config.Config, error) {
	return config.Load(".env")
}

// openMigrated loads the configuration, opens the database and brings its
// schema up to date, returning the migrations it applied. The caller closes
// the database.
func openMigrated(ctx context.Context) (*config.Config, *db.DB, []string, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, nil, err
	}
	applied, err := d.Migrate(ctx)
	if err != nil {
		d.Close()
		return nil, nil, nil, err
	}
	return cfg, d, applied, nil
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.SampleData {
		if err := a.LoadSample(ctx, sampleData()); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	return a.Serve(ctx, ln)
}

func migrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, d, applied, err := openMigrated(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Printf("%s: applied %d migrations %v\n", d.Dialect, len(applied), applied)
	return nil
}

func createAdmin(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("create-admin", flag.ContinueOnError)
	email := fs.String("email", os.Getenv("ADMIN_EMAIL"), "the admin's email (default $ADMIN_EMAIL)")
	pwFile := fs.String("password-file", "", "read the password from this file (default $ADMIN_PASSWORD, else stdin)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("create-admin: --email is required")
	}
	password := os.Getenv("ADMIN_PASSWORD")
	switch {
	case *pwFile != "":
		b, err := os.ReadFile(*pwFile)
		if err != nil {
			return err
		}
		password = strings.TrimRight(string(b), "\r\n")
	case password == "":
		fmt.Fprint(os.Stderr, "password: ")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("create-admin: reading the password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	cfg, d, _, err := openMigrated(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	changed, err := users.NewStore(d, cfg.BcryptCost).EnsureAdmin(ctx, *email, password)
	if err != nil {
		return err
	}
	if changed {
		fmt.Printf("%s is an admin (the cached user list refreshes within CACHE_TTL)\n", *email)
	} else {
		fmt.Printf("%s was already an admin with this password\n", *email)
	}
	return nil
}
