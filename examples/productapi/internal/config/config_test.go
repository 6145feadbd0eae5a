package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := FromLookup(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DatabaseURL != "sqlite:productapi.db" || !c.EmbeddedRedis() || c.CacheTTL != 60*time.Second || c.Production() {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestSecretFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	secret := strings.Repeat("s", 40)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := FromLookup(lookup(map[string]string{"JWT_SECRET_FILE": path}))
	if err != nil {
		t.Fatal(err)
	}
	if c.JWTSecret != secret {
		t.Fatalf("JWTSecret = %q", c.JWTSecret)
	}
}

func TestDotEnvDoesNotOverride(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("ADDR=:9999\nCACHE_TTL=5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ADDR", ":7777")
	t.Setenv("CACHE_TTL", "")
	os.Unsetenv("CACHE_TTL")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":7777" || c.CacheTTL != 5*time.Second {
		t.Fatalf("Addr=%q CacheTTL=%v, want :7777 from the environment and 5s from .env", c.Addr, c.CacheTTL)
	}
}

func TestInvalid(t *testing.T) {
	secret := strings.Repeat("s", 40)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"production without secret", map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://r:6379"}, "JWT_SECRET"},
		{"production without redis", map[string]string{"APP_ENV": "production", "JWT_SECRET": secret}, "real Redis"},
		{"short secret", map[string]string{"JWT_SECRET": "short"}, "at least 32"},
		{"unknown env", map[string]string{"APP_ENV": "staging"}, "APP_ENV"},
		{"bad duration", map[string]string{"CACHE_TTL": "soon"}, "CACHE_TTL"},
		{"zero ttl", map[string]string{"CACHE_TTL": "0s"}, "CACHE_TTL"},
		{"secret twice", map[string]string{"JWT_SECRET": secret, "JWT_SECRET_FILE": "/x"}, "not both"},
		{"missing secret file", map[string]string{"JWT_SECRET_FILE": "/nonexistent/secret"}, "JWT_SECRET_FILE"},
		{"admin half set", map[string]string{"ADMIN_EMAIL": "a@b.c"}, "ADMIN_PASSWORD"},
		{"bad bypass", map[string]string{"CACHE_BYPASS": "everyone"}, "CACHE_BYPASS"},
		{"url and addrs", map[string]string{"REDIS_URL": "redis://x", "REDIS_ADDRS": "a:1"}, "not both"},
		{"master without sentinels", map[string]string{"REDIS_MASTER_NAME": "mymaster"}, "REDIS_ADDRS naming the sentinels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromLookup(lookup(tt.env))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrConfig mentioning %q", err, tt.want)
			}
		})
	}
	c, err := FromLookup(lookup(map[string]string{"APP_ENV": "production", "JWT_SECRET": secret, "REDIS_ADDRS": "a:1, b:2"}))
	if err != nil || len(c.RedisAddrs) != 2 {
		t.Fatalf("valid production config: %v %+v", err, c)
	}
	c, err = FromLookup(lookup(map[string]string{"REDIS_ADDRS": "s1:26379,s2:26379", "REDIS_MASTER_NAME": "mymaster"}))
	if err != nil || c.RedisMasterName != "mymaster" || len(c.RedisAddrs) != 2 {
		t.Fatalf("Sentinel config: %v %+v", err, c)
	}
}

func TestPartialAdmin(t *testing.T) {
	for _, vars := range []map[string]string{
		{"ADMIN_PASSWORD": "admin-password-1"},
		{"ADMIN_EMAIL": "admin@example.com"},
	} {
		if _, err := FromLookup(lookup(vars)); err == nil || !strings.Contains(err.Error(), "together") {
			t.Errorf("FromLookup(%v): %v, want the error that they are set together", vars, err)
		}
		c, err := fromLookup(lookup(vars), false)
		if err != nil {
			t.Fatalf("fromLookup(%v, adminPair false): %v", vars, err)
		}
		if c.AdminEmail != vars["ADMIN_EMAIL"] || c.AdminPassword != vars["ADMIN_PASSWORD"] {
			t.Fatalf("fromLookup(%v, adminPair false) = %q, %q", vars, c.AdminEmail, c.AdminPassword)
		}
	}
	// The other rules still hold.
	if _, err := fromLookup(lookup(map[string]string{"ADMIN_PASSWORD": "x", "BCRYPT_COST": "99"}), false); err == nil {
		t.Fatal("fromLookup accepted BCRYPT_COST=99")
	}
}
