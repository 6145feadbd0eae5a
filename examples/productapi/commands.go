package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// openMigrated opens the database of cfg and brings its schema up to date,
// returning the migrations it applied. The caller closes the database.
func openMigrated(ctx context.Context, cfg *config.Config) (*db.DB, []string, error) {
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	applied, err := d.Migrate(ctx)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return d, applied, nil
}

func serve(ctx context.Context, args []string) error {
	fs := newFlagSet("serve", "[serve]: run the API")
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
	fs := newFlagSet("migrate", "migrate: apply database migrations and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	d, applied, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Printf("%s: applied %d migrations %v\n", d.Dialect, len(applied), applied)
	return nil
}

// createAdmin makes an admin. Its credentials come from the configuration,
// read as serve reads it (the environment, .env, ADMIN_*_FILE), with the
// flags taking precedence: the email from --email, else ADMIN_EMAIL; the
// password from --password-file, else ADMIN_PASSWORD, else a line of stdin.
func createAdmin(ctx context.Context, args []string, stdin io.Reader) error {
	fs := newFlagSet("create-admin", "create-admin [--email E] [--password-file F]: create or promote an admin")
	email := fs.String("email", "", "the admin's email (default $ADMIN_EMAIL)")
	pwFile := fs.String("password-file", "", "read the password from this file (default $ADMIN_PASSWORD, else stdin)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Either half may come from a flag or the prompt: the rule that
	// ADMIN_EMAIL and ADMIN_PASSWORD are set together is serve's.
	cfg, err := config.LoadPartialAdmin(".env")
	if err != nil {
		return err
	}
	// An email from ADMIN_EMAIL (a secret) is not printed back.
	shown := *email
	if *email == "" {
		*email, shown = cfg.AdminEmail, "the account of ADMIN_EMAIL"
	}
	if *email == "" {
		return errors.New("create-admin: --email (or ADMIN_EMAIL) is required")
	}
	password := cfg.AdminPassword
	switch {
	case *pwFile != "":
		b, err := os.ReadFile(*pwFile)
		if err != nil {
			return err
		}
		password = strings.TrimRight(string(b), "\r\n")
	case password == "":
		if password, err = promptPassword(stdin); err != nil {
			return err
		}
	}
	d, _, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	changed, err := users.NewStore(d, cfg.BcryptCost).EnsureAdmin(ctx, *email, password)
	if err != nil {
		return err
	}
	if changed {
		fmt.Printf("%s is an admin (the cached user list refreshes within CACHE_TTL)\n", shown)
	} else {
		fmt.Printf("%s was already an admin with this password\n", shown)
	}
	return nil
}
