package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cachefront/cachefront/examples/productapi/internal/auth"
	"github.com/cachefront/cachefront/examples/productapi/internal/users"
)

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

func (a *api) register(w http.ResponseWriter, r *http.Request) {
	// Registration costs a bcrypt hash: it shares the per-client budget of
	// login attempts, so that neither can be used to burn CPU.
	if ok, wait := a.LoginPerClient.Allow(clientAddr(r)); !ok {
		tooManyAttempts(w, r, wait)
		return
	}
	var in credentials
	if e := decodeJSON(w, r, a.MaxBodyBytes, &in); e != nil {
		writeAPIError(w, r, e)
		return
	}
	u, err := a.Users.Create(r.Context(), in.Email, in.Password, users.RoleUser)
	switch {
	case errors.Is(err, users.ErrInvalidEmail):
		writeAPIError(w, r, fieldError("email", err.Error()))
		return
	case errors.Is(err, users.ErrInvalidPassword):
		writeAPIError(w, r, fieldError("password", err.Error()))
		return
	case errors.Is(err, users.ErrEmailTaken):
		writeError(w, r, http.StatusConflict, "email_taken", err.Error())
		return
	case err != nil:
		a.internal(w, r, err)
		return
	}
	a.invalidate(r, users.TagUsers)
	w.Header().Set("Location", "/auth/me")
	writeJSON(w, http.StatusCreated, u)
}

func (a *api) login(w http.ResponseWriter, r *http.Request) {
	if ok, wait := a.LoginPerClient.Allow(clientAddr(r)); !ok {
		tooManyAttempts(w, r, wait)
		return
	}
	var in credentials
	if e := decodeJSON(w, r, a.MaxBodyBytes, &in); e != nil {
		writeAPIError(w, r, e)
		return
	}
	// The per-account budget is keyed by the normalised address, so that
	// spellings of one account (case, fullwidth letters) share it.
	account, err := users.NormalizeEmail(in.Email)
	if err != nil {
		account = strings.ToLower(strings.TrimSpace(in.Email))
		if len(account) > 254 {
			account = account[:254]
		}
	}
	if ok, wait := a.LoginPerAccount.Allow(account); !ok {
		tooManyAttempts(w, r, wait)
		return
	}
	u, err := a.Users.Authenticate(r.Context(), in.Email, in.Password)
	if errors.Is(err, users.ErrInvalidCredentials) {
		writeError(w, r, http.StatusUnauthorized, "invalid_credentials", "invalid email or password")
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	token, err := a.Tokens.Issue(u.ID, u.Email, u.Role)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(a.Tokens.TTL() / time.Second)})
}

func tooManyAttempts(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeError(w, r, http.StatusTooManyRequests, "too_many_attempts", "too many attempts; retry later")
}

func (a *api) me(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	id, _ := c.UserID()
	u, err := a.Users.ByID(r.Context(), id)
	if errors.Is(err, users.ErrNotFound) {
		writeError(w, r, http.StatusUnauthorized, "invalid_token", "the token's user no longer exists")
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, u)
}

func (a *api) listUsers(w http.ResponseWriter, r *http.Request) {
	list, err := a.Users.List(r.Context())
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": list})
}
