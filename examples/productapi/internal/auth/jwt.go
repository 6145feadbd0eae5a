// Package auth issues and checks the API's access tokens (JWT, HS256 only),
// guards routes by role, and rate-limits login attempts.
package auth

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretLen is the shortest HS256 secret accepted: 32 bytes, the size of
// the hash.
const MinSecretLen = 32

// Claims are what an access token says about its bearer.
type Claims struct {
	Role  string `json:"role"`
	Email string `json:"email"`
	jwt.RegisteredClaims
}

// UserID returns the token's subject as a user id.
func (c *Claims) UserID() (int64, error) { return strconv.ParseInt(c.Subject, 10, 64) }

// Tokens issues and verifies HS256 access tokens. It is safe for concurrent
// use.
type Tokens struct {
	secret []byte
	issuer string
	ttl    time.Duration
	parser *jwt.Parser
	now    func() time.Time
}

// ErrInvalidToken reports a token that is malformed, signed with another key
// or algorithm, expired, or issued by someone else.
var ErrInvalidToken = errors.New("invalid or expired token")

// NewTokens returns Tokens signing with secret (at least MinSecretLen
// bytes) as issuer, valid for ttl.
func NewTokens(secret []byte, issuer string, ttl time.Duration) (*Tokens, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("JWT secret must be at least %d bytes, got %d", MinSecretLen, len(secret))
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("token TTL must be positive, got %v", ttl)
	}
	t := &Tokens{secret: secret, issuer: issuer, ttl: ttl, now: time.Now}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), // pins the algorithm: "none" and RS/ES are refused
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
	)
	return t, nil
}

// TTL returns how long issued tokens are valid.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue returns a signed token for user id with role and email.
func (t *Tokens) Issue(id int64, email, role string) (string, error) {
	now := t.now()
	c := Claims{
		Role:  role,
		Email: email,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   strconv.FormatInt(id, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
}

// Verify checks token and returns its claims, or an error matching
// ErrInvalidToken.
func (t *Tokens) Verify(token string) (*Claims, error) {
	var c Claims
	_, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil })
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if _, err := c.UserID(); err != nil || (c.Role != "user" && c.Role != "admin") {
		return nil, fmt.Errorf("%w: bad subject or role", ErrInvalidToken)
	}
	return &c, nil
}
