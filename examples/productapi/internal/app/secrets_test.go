package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/cachefront/cachefront/examples/productapi/internal/app"
	"github.com/cachefront/cachefront/examples/productapi/internal/config"
	"github.com/cachefront/cachefront/examples/productapi/internal/dbtest"
)

// TestSecretsNotLogged: ADMIN_EMAIL and ADMIN_PASSWORD are secrets; neither
// the start-up log, when the admin is made, nor the error of a start that
// cannot make it names them.
func TestSecretsNotLogged(t *testing.T) {
	const email, password = "hidden-admin@example.com", "hidden-password-1"
	var log bytes.Buffer
	startEnv(t, "sqlite", envOptions{
		extra: map[string]string{"ADMIN_EMAIL": email, "ADMIN_PASSWORD": password},
		log:   &log,
	})
	if !strings.Contains(log.String(), "admin account") {
		t.Fatalf("the log does not say the admin was made:\n%s", log.String())
	}
	for _, secret := range []string{email, password} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("the start-up log holds %q:\n%s", secret, log.String())
		}
	}

	vars := map[string]string{
		"DATABASE_URL": dbtest.URL(t, "sqlite"), "JWT_SECRET": testSecret, "BCRYPT_COST": "4",
		"REDIS_URL": "redis://" + miniredis.RunT(t).Addr(), "ADMIN_EMAIL": email, "ADMIN_PASSWORD": "short",
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	log.Reset()
	_, err = app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(&log, nil)))
	if err == nil {
		t.Fatal("a start with a too short ADMIN_PASSWORD succeeded")
	}
	if strings.Contains(err.Error(), email) || strings.Contains(log.String(), email) {
		t.Errorf("the failed start names ADMIN_EMAIL: %v\n%s", err, log.String())
	}
}
