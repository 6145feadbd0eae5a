// Package users stores the API's accounts: email, bcrypt password hash and
// role.
package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"

	"github.com/cachefront/cachefront/examples/productapi/internal/db"
)

// Roles.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// TagUsers is the cache tag of the user list.
const TagUsers = "users"

// User is an account as the API shows it; the hash never leaves the package.
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Errors.
var (
	ErrNotFound           = errors.New("user not found")
	ErrEmailTaken         = errors.New("email already registered")
	ErrInvalidCredentials = errors.New("invalid email or password")
	ErrInvalidEmail       = errors.New("email must be a valid address of at most 254 bytes, without control or invisible characters")
	ErrInvalidPassword    = fmt.Errorf("password must be %d to %d bytes", MinPasswordLen, MaxPasswordLen)
)

// Password bounds; bcrypt reads at most 72 bytes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 72
)

// Store reads and writes users. It is safe for concurrent use.
type Store struct {
	db   *db.DB
	cost int
	// dummyHash is compared against when an email is unknown, so that login
	// takes as long for unknown emails as for wrong passwords.
	dummyHash []byte
}

// NewStore returns a Store hashing passwords with bcrypt at cost (use
// bcrypt.DefaultCost in production; tests use bcrypt.MinCost).
func NewStore(d *db.DB, cost int) *Store {
	h, _ := bcrypt.GenerateFromPassword([]byte("timing-equaliser"), cost)
	return &Store{db: d, cost: cost, dummyHash: h}
}

// NormalizeEmail validates an email address and returns it in the form
// accounts are stored and compared in: NFKC-normalised (so that fullwidth
// "ａｌｉｃｅ@example.com" is alice@example.com) and lower-cased. An address
// holding control or format characters (bidirectional controls, zero-width
// characters, soft hyphens), which render invisibly and would make look-alike
// accounts, is ErrInvalidEmail.
func NormalizeEmail(email string) (string, error) {
	if !utf8.ValidString(email) || hasInvisible(email) {
		return "", ErrInvalidEmail
	}
	email = strings.ToLower(strings.TrimSpace(norm.NFKC.String(email)))
	if email == "" || len(email) > 254 || hasInvisible(email) {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return "", ErrInvalidEmail
	}
	return email, nil
}

// hasInvisible reports whether s holds a control (Cc), format (Cf),
// private-use (Co) or surrogate (Cs) character, or a line or paragraph
// separator.
func hasInvisible(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp)
	})
}

func validPassword(pw string) error {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen {
		return ErrInvalidPassword
	}
	return nil
}

const userColumns = `id, email, role, created_at`

func scanUser(s interface{ Scan(...any) error }) (User, error) {
	var u User
	var created db.Time
	err := s.Scan(&u.ID, &u.Email, &u.Role, &created)
	u.CreatedAt = created.Time
	return u, err
}

// Create registers a user with role; it returns ErrEmailTaken,
// ErrInvalidEmail or ErrInvalidPassword for bad input, and an error
// matching db.IsBusy when other writes held the database too long.
func (s *Store) Create(ctx context.Context, email, password, role string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if err := validPassword(password); err != nil {
		return User{}, err
	}
	if role != RoleUser && role != RoleAdmin {
		return User{}, fmt.Errorf("unknown role %q", role)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return User{}, fmt.Errorf("hashing password: %w", err)
	}
	unlock, err := s.db.LockWrites(ctx)
	if err != nil {
		return User{}, fmt.Errorf("creating user: %w", err)
	}
	defer unlock()
	q := s.db.Dialect.Rebind(`INSERT INTO users (email, password_hash, role, created_at) VALUES (?, ?, ?, ?) RETURNING ` + userColumns)
	u, err := scanUser(s.db.QueryRowContext(ctx, q, email, string(hash), role, s.db.Dialect.TimeArg(time.Now())))
	if db.IsUniqueViolation(err) {
		return User{}, ErrEmailTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("creating user: %w", err)
	}
	return u, nil
}

// EnsureAdmin makes email an admin with password: it creates the account,
// or promotes an existing one and resets its password. It reports whether
// anything changed.
func (s *Store) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	_, err := s.Create(ctx, email, password, RoleAdmin)
	if !errors.Is(err, ErrEmailTaken) {
		return err == nil, err
	}
	email, _ = NormalizeEmail(email)
	var hash, role string
	if err := s.db.QueryRowContext(ctx, s.db.Dialect.Rebind(`SELECT password_hash, role FROM users WHERE email = ?`), email).Scan(&hash, &role); err != nil {
		return false, fmt.Errorf("reading user: %w", err)
	}
	if role == RoleAdmin && bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil {
		return false, nil
	}
	newHash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return false, err
	}
	unlock, err := s.db.LockWrites(ctx)
	if err != nil {
		return false, fmt.Errorf("promoting user: %w", err)
	}
	defer unlock()
	if _, err := s.db.ExecContext(ctx, s.db.Dialect.Rebind(`UPDATE users SET role = ?, password_hash = ? WHERE email = ?`), RoleAdmin, string(newHash), email); err != nil {
		return false, fmt.Errorf("promoting user: %w", err)
	}
	return true, nil
}

// Authenticate returns the user whose email and password these are, or
// ErrInvalidCredentials. It spends one bcrypt comparison whether or not the
// email exists.
func (s *Store) Authenticate(ctx context.Context, email, password string) (User, error) {
	norm, err := NormalizeEmail(email)
	if err != nil || len(password) > MaxPasswordLen {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(password))
		return User{}, ErrInvalidCredentials
	}
	var hash string
	var u User
	var created db.Time
	err = s.db.QueryRowContext(ctx, s.db.Dialect.Rebind(`SELECT id, email, role, created_at, password_hash FROM users WHERE email = ?`), norm).
		Scan(&u.ID, &u.Email, &u.Role, &created, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(password))
		return User{}, ErrInvalidCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("reading user: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return User{}, ErrInvalidCredentials
	}
	u.CreatedAt = created.Time
	return u, nil
}

// ByID returns user id, or ErrNotFound.
func (s *Store) ByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.db.Dialect.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	return u, err
}

// List returns every user in id order.
func (s *Store) List(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
