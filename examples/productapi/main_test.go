package main

import (
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
		if err := run(args); err != nil {
			t.Fatalf("productapi %s: %v", strings.Join(args, " "), err)
		}
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("admin-password-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"create-admin", "--email", "root@example.com", "--password-file", pw}); err != nil {
		t.Fatalf("create-admin: %v", err)
	}
	for _, bad := range [][]string{
		{"nonsense"},
		{"import"},
		{"import", "--products", "missing.csv"},
		{"create-admin"},
		{"gen", "--rows", "-1"},
	} {
		if err := run(bad); err == nil {
			t.Errorf("productapi %s succeeded", strings.Join(bad, " "))
		}
	}
}
