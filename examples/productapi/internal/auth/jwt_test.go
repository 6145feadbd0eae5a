package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func TestNewTokensRejectsShortSecrets(t *testing.T) {
	if _, err := NewTokens([]byte("short"), "x", time.Hour); err == nil {
		t.Fatal("short secret accepted")
	}
}

func TestVerify(t *testing.T) {
	tok, err := NewTokens(testSecret, "productapi", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	good, err := tok.Issue(7, "a@example.com", "admin")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewTokens([]byte(strings.Repeat("x", 32)), "productapi", time.Hour)
	wrongKey, _ := other.Issue(7, "a@example.com", "admin")
	otherIssuer, _ := NewTokens(testSecret, "someone-else", time.Hour)
	wrongIssuer, _ := otherIssuer.Issue(7, "a@example.com", "admin")
	expired, _ := func() (string, error) {
		old, _ := NewTokens(testSecret, "productapi", time.Minute)
		old.now = func() time.Time { return time.Now().Add(-time.Hour) }
		return old.Issue(7, "a@example.com", "admin")
	}()
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"iss": "productapi", "sub": "7", "role": "admin", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{
		"iss": "productapi", "sub": "7", "role": "admin", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
	}).SignedString(testSecret)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "productapi", "sub": "7", "role": "admin",
	}).SignedString(testSecret)
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"sub":"7"`, `"sub":"8"`, 1))) + "." + parts[2]

	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid", good, true},
		{"empty", "", false},
		{"garbage", "not.a.token", false},
		{"wrong key", wrongKey, false},
		{"wrong issuer", wrongIssuer, false},
		{"expired", expired, false},
		{"alg none", none, false},
		{"alg HS512", hs512, false},
		{"no expiry", noExp, false},
		{"tampered payload", tampered, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tok.Verify(tt.token)
			if tt.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id, _ := c.UserID(); id != 7 || c.Role != "admin" {
					t.Fatalf("claims %+v", c)
				}
				return
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
}
