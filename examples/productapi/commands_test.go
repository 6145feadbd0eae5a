package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachefront/cachefront/examples/productapi/internal/db"
	"github.com/cachefront/cachefront/examples/productapi/internal/users"
)

// TestCreateAdminCredentials runs create-admin with its credentials given in
// each documented way: flags, the environment, NAME_FILE files, .env and
// stdin, and checks who became an admin with which password.
func TestCreateAdminCredentials(t *testing.T) {
	const pw = "admin-password-1"
	tests := []struct {
		name    string
		env     map[string]string // "@file" values become the path of a file holding the rest
		dotenv  string            // contents of .env
		args    []string
		stdin   string
		email   string // the admin that must exist afterwards, with pw
		wantErr string // instead: the error create-admin must return
	}{
		{name: "ADMIN_PASSWORD with --email",
			env: map[string]string{"ADMIN_PASSWORD": pw}, args: []string{"--email", "boss@example.com"}, email: "boss@example.com"},
		{name: "ADMIN_PASSWORD_FILE with --email",
			env: map[string]string{"ADMIN_PASSWORD_FILE": "@" + pw + "\n"}, args: []string{"--email", "boss@example.com"}, email: "boss@example.com"},
		{name: "both from .env",
			dotenv: "ADMIN_EMAIL=env@example.com\nADMIN_PASSWORD=" + pw + "\n", email: "env@example.com"},
		{name: "both from the environment",
			env: map[string]string{"ADMIN_EMAIL": "env@example.com", "ADMIN_PASSWORD": pw}, email: "env@example.com"},
		{name: "both from files",
			env: map[string]string{"ADMIN_EMAIL_FILE": "@file@example.com\n", "ADMIN_PASSWORD_FILE": "@" + pw}, email: "file@example.com"},
		{name: "--email overrides ADMIN_EMAIL",
			env: map[string]string{"ADMIN_EMAIL": "env@example.com", "ADMIN_PASSWORD": pw}, args: []string{"--email", "flag@example.com"}, email: "flag@example.com"},
		{name: "--email overrides ADMIN_EMAIL_FILE",
			env: map[string]string{"ADMIN_EMAIL_FILE": "@file@example.com", "ADMIN_PASSWORD": pw}, args: []string{"--email", "flag@example.com"}, email: "flag@example.com"},
		{name: "ADMIN_EMAIL from .env, password from stdin",
			dotenv: "ADMIN_EMAIL=env@example.com\n", stdin: pw + "\n", email: "env@example.com"},
		{name: "--email, password from stdin",
			args: []string{"--email", "boss@example.com"}, stdin: pw + "\r\n", email: "boss@example.com"},
		{name: "--password-file overrides ADMIN_PASSWORD",
			env: map[string]string{"ADMIN_PASSWORD": "another-password"}, args: []string{"--email", "boss@example.com", "--password-file", "@" + pw + "\n"}, email: "boss@example.com"},
		{name: "no email anywhere",
			env: map[string]string{"ADMIN_PASSWORD": pw}, wantErr: "--email"},
		{name: "no password anywhere",
			args: []string{"--email", "boss@example.com"}, wantErr: "reading the password"},
		{name: "ADMIN_PASSWORD and ADMIN_PASSWORD_FILE",
			env: map[string]string{"ADMIN_PASSWORD": pw, "ADMIN_PASSWORD_FILE": "@" + pw}, args: []string{"--email", "boss@example.com"}, wantErr: "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			dbURL := "sqlite:" + filepath.Join(dir, "admin.db")
			// Variables .env may set are cleared first, so that t.Setenv
			// puts their absence back when the test ends.
			for _, name := range []string{"REDIS_URL", "REDIS_ADDRS", "APP_ENV", "JWT_SECRET", "DATABASE_URL_FILE",
				"ADMIN_EMAIL", "ADMIN_EMAIL_FILE", "ADMIN_PASSWORD", "ADMIN_PASSWORD_FILE"} {
				t.Setenv(name, "")
				os.Unsetenv(name)
			}
			t.Setenv("DATABASE_URL", dbURL)
			t.Setenv("BCRYPT_COST", "4")
			file := func(v string) string {
				if !strings.HasPrefix(v, "@") {
					return v
				}
				f, err := os.CreateTemp(dir, "secret")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.WriteString(v[1:]); err != nil {
					t.Fatal(err)
				}
				return f.Name()
			}
			for k, v := range tt.env {
				t.Setenv(k, file(v))
			}
			if tt.dotenv != "" {
				if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tt.dotenv), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = file(a)
			}

			err := createAdmin(context.Background(), args, strings.NewReader(tt.stdin))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			d, err := db.Open(ctx, dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			u, err := users.NewStore(d, 4).Authenticate(ctx, tt.email, pw)
			if err != nil {
				t.Fatalf("%s cannot sign in with the password: %v", tt.email, err)
			}
			if u.Role != users.RoleAdmin {
				t.Fatalf("%s has role %q", tt.email, u.Role)
			}
			list, err := users.NewStore(d, 4).List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 {
				t.Fatalf("%d users, want only %s", len(list), tt.email)
			}
		})
	}
}
