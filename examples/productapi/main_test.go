package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommands runs the CLI as an operator would: generate a catalogue,
// import it, make an admin, in a fresh directory with a SQLite database.
func TestCommands(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("DATABASE_URL", "sqlite:"+filepath.Join(dir, "cli.db"))
	t.Setenv("BCRYPT_COST", "4")
	for _, name := range []string{"REDIS_URL", "REDIS_ADDRS", "APP_ENV", "ADMIN_EMAIL", "ADMIN_PASSWORD", "JWT_SECRET"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}

	steps := [][]string{
		{"gen", "--rows", "300", "--out", "data", "--seed", "7"},
		{"migrate"},
		{"import", "--categories", "data/amazon_categories.csv", "--products", "data/amazon_products.csv"},
		{"import", "--products", "data/amazon_products.csv"}, // idempotent
	}
	for _, args := range steps {
		if err := run(args, io.Discard); err != nil {
			t.Fatalf("productapi %s: %v", strings.Join(args, " "), err)
		}
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("admin-password-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"create-admin", "--email", "root@example.com", "--password-file", pw}, io.Discard); err != nil {
		t.Fatalf("create-admin: %v", err)
	}
	for _, bad := range [][]string{
		{"nonsense"},
		{"import"},
		{"import", "--products", "missing.csv"},
		{"create-admin"},
		{"gen", "--rows", "-1"},
	} {
		if err := run(bad, io.Discard); err == nil {
			t.Errorf("productapi %s succeeded", strings.Join(bad, " "))
		}
	}
}

// TestHelp: help, -h and --help print the usage and succeed; a command's
// -h prints its own usage and exits 0 as well.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}} {
		var out bytes.Buffer
		err := run(args, &out)
		if err != nil || exitCode(err) != 0 {
			t.Errorf("productapi %s: %v (exit %d)", args[0], err, exitCode(err))
		}
		for _, want := range []string{"productapi [serve]", "productapi migrate", "productapi import", "productapi gen", "productapi healthcheck"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("productapi %s: usage lacks %q:\n%s", args[0], want, out.String())
			}
		}
	}
	for _, cmd := range []string{"serve", "migrate", "create-admin", "import", "gen"} {
		err := run([]string{cmd, "-h"}, io.Discard)
		if !errors.Is(err, flag.ErrHelp) || exitCode(err) != 0 {
			t.Errorf("productapi %s -h: %v (exit %d), want flag.ErrHelp and exit 0", cmd, err, exitCode(err))
		}
	}
	if code := exitCode(errors.New("boom")); code != 1 {
		t.Errorf("exit code of an error = %d, want 1", code)
	}
}
