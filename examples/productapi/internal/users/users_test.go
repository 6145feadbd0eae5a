package users_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/cachefront/cachefront/examples/productapi/internal/db"
	"github.com/cachefront/cachefront/examples/productapi/internal/dbtest"
	"github.com/cachefront/cachefront/examples/productapi/internal/users"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Alice@Example.COM", "alice@example.com", true},
		{"  bob@example.com ", "bob@example.com", true},
		{"", "", false},
		{"no-at-sign", "", false},
		{"Bob <bob@example.com>", "", false},
		{"a@b@c", "", false},
		{strings.Repeat("a", 250) + "@example.com", "", false},
		// Look-alikes: fullwidth letters are the same account; invisible
		// characters are refused.
		{"ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ", "alice@example.com", true},
		{"ＡＬＩＣＥ@example.com", "alice@example.com", true},
		{"alice\uFF20example.com", "alice@example.com", true}, // fullwidth @
		{"ali\u00ADce@example.com", "", false},                // soft hyphen
		{"alice\u202E@example.com", "", false},                // right-to-left override
		{"\u2066alice@example.com\u2069", "", false},          // bidi isolates
		{"ali\u200Bce@example.com", "", false},                // zero-width space
		{"ali\u200Dce@example.com", "", false},                // zero-width joiner
		{"\uFEFFalice@example.com", "", false},                // byte-order mark
		{"alice\x00@example.com", "", false},
		{"alice\x7F@example.com", "", false},
		{"alice@example.com\u2028", "", false}, // line separator
		{"bad\xff@example.com", "", false},
	}
	for _, tt := range tests {
		got, err := users.NormalizeEmail(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestStore(t *testing.T) {
	for _, dialect := range dbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			d, err := db.Open(ctx, dbtest.URL(t, dialect))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := d.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			s := users.NewStore(d, bcrypt.MinCost)

			u, err := s.Create(ctx, "Carol@Example.com", "long-enough", users.RoleUser)
			if err != nil || u.Email != "carol@example.com" || u.Role != users.RoleUser {
				t.Fatalf("Create = %+v, %v", u, err)
			}
			if _, err := s.Create(ctx, "carol@example.com", "long-enough", users.RoleUser); !errors.Is(err, users.ErrEmailTaken) {
				t.Fatalf("duplicate Create = %v", err)
			}
			if _, err := s.Create(ctx, "dave@example.com", "short", users.RoleUser); !errors.Is(err, users.ErrInvalidPassword) {
				t.Fatalf("short password = %v", err)
			}
			if _, err := s.Create(ctx, "dave@example.com", strings.Repeat("p", 73), users.RoleUser); !errors.Is(err, users.ErrInvalidPassword) {
				t.Fatalf("over-long password = %v", err)
			}
			if got, err := s.Authenticate(ctx, "CAROL@example.com", "long-enough"); err != nil || got.ID != u.ID {
				t.Fatalf("Authenticate = %+v, %v", got, err)
			}
			for _, c := range [][2]string{{"carol@example.com", "wrong-password"}, {"nobody@example.com", "long-enough"}, {"not an email", "x"}} {
				if _, err := s.Authenticate(ctx, c[0], c[1]); !errors.Is(err, users.ErrInvalidCredentials) {
					t.Errorf("Authenticate(%q, %q) = %v, want ErrInvalidCredentials", c[0], c[1], err)
				}
			}

			// EnsureAdmin promotes an existing account and resets its password,
			// and is a no-op the second time.
			if changed, err := s.EnsureAdmin(ctx, "carol@example.com", "new-admin-pass"); err != nil || !changed {
				t.Fatalf("EnsureAdmin = %v, %v", changed, err)
			}
			if changed, err := s.EnsureAdmin(ctx, "carol@example.com", "new-admin-pass"); err != nil || changed {
				t.Fatalf("second EnsureAdmin = %v, %v", changed, err)
			}
			got, err := s.Authenticate(ctx, "carol@example.com", "new-admin-pass")
			if err != nil || got.Role != users.RoleAdmin {
				t.Fatalf("after EnsureAdmin: %+v, %v", got, err)
			}
			list, err := s.List(ctx)
			if err != nil || len(list) != 1 {
				t.Fatalf("List = %v, %v", list, err)
			}
			if _, err := s.ByID(ctx, 9999); !errors.Is(err, users.ErrNotFound) {
				t.Fatalf("ByID(missing) = %v", err)
			}
		})
	}
}
