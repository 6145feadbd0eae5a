package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

type claimsKey struct{}

// FromContext returns the claims that Require put in ctx.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok
}

// Failure is how a guard reports a refused request: fail writes the response
// (the HTTP layer's JSON error) with status 401 or 403 and message.
type Failure func(w http.ResponseWriter, r *http.Request, status int, code, message string)

// Require returns middleware that lets a request through only with a valid
// bearer token whose role is one of roles (any role when none are given).
// A missing, malformed, expired or tampered token is 401 with a
// WWW-Authenticate challenge; a valid token with the wrong role is 403.
func (t *Tokens) Require(fail Failure, roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="productapi"`)
				fail(w, r, http.StatusUnauthorized, "unauthorized", "missing bearer token")
				return
			}
			c, err := t.Verify(strings.TrimSpace(token))
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="productapi", error="invalid_token"`)
				fail(w, r, http.StatusUnauthorized, "invalid_token", "invalid or expired token")
				return
			}
			if len(roles) > 0 && !hasRole(c.Role, roles) {
				fail(w, r, http.StatusForbidden, "forbidden", "this route needs role "+strings.Join(roles, " or "))
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
		})
	}
}

// ErrNoAccount is what a RoleFunc returns for an account that no longer
// exists.
var ErrNoAccount = errors.New("auth: no such account")

// RoleFunc returns the current role of account id, or ErrNoAccount.
type RoleFunc func(ctx context.Context, id int64) (role string, err error)

// RequireAccount is Require, except that the role is the account's as
// currentRole says now, not the one the token was issued with: an account
// deleted since is 401, one demoted since is 403 on routes that need the
// old role, at once rather than when the token expires. The claims put in
// the context carry the current role. An error from currentRole other than
// ErrNoAccount is 500.
func (t *Tokens) RequireAccount(fail Failure, currentRole RoleFunc, roles ...string) func(http.Handler) http.Handler {
	check := t.Require(fail) // any valid token; the role is checked below
	return func(next http.Handler) http.Handler {
		return check(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := FromContext(r.Context())
			id, _ := c.UserID() // Verify checked it
			role, err := currentRole(r.Context(), id)
			switch {
			case errors.Is(err, ErrNoAccount):
				w.Header().Set("WWW-Authenticate", `Bearer realm="productapi", error="invalid_token"`)
				fail(w, r, http.StatusUnauthorized, "invalid_token", "the token's account no longer exists")
				return
			case err != nil:
				fail(w, r, http.StatusInternalServerError, "internal", "internal server error")
				return
			}
			if len(roles) > 0 && !hasRole(role, roles) {
				fail(w, r, http.StatusForbidden, "forbidden", "this route needs role "+strings.Join(roles, " or "))
				return
			}
			current := *c
			current.Role = role
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, &current)))
		}))
	}
}

func hasRole(role string, roles []string) bool {
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}
