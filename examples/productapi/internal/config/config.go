// Package config reads the product API's settings from the environment, an
// optional .env file, and NAME_FILE files for secrets (as container secret
// stores provide them).
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// Environments.
const (
	Development = "development"
	Production  = "production"
)

// Config is the service's configuration. The zero value is not useful: use
// Load.
type Config struct {
	Env  string // APP_ENV: development (default) or production
	Addr string // ADDR: listen address, default ":8080"

	DatabaseURL string // DATABASE_URL: sqlite:PATH (default sqlite:productapi.db) or postgres://…

	// RedisURL (REDIS_URL: redis:// or rediss://) or RedisAddrs
	// (REDIS_ADDRS: host:port,… — several make a cluster client; with
	// REDIS_MASTER_NAME they are Sentinels) point at a real Redis; with
	// neither, an in-process development server runs.
	RedisURL              string
	RedisAddrs            []string
	RedisMasterName       string // REDIS_MASTER_NAME: the Sentinel master; REDIS_ADDRS then name the sentinels
	RedisPassword         string // REDIS_PASSWORD, for REDIS_ADDRS
	RedisSentinelPassword string // REDIS_SENTINEL_PASSWORD, for the sentinels of REDIS_MASTER_NAME

	JWTSecret     string        // JWT_SECRET: at least 32 bytes; development generates one
	JWTIssuer     string        // JWT_ISSUER, default "productapi"
	JWTTTL        time.Duration // JWT_TTL, default 1h
	AdminEmail    string        // ADMIN_EMAIL
	AdminPassword string        // ADMIN_PASSWORD

	CacheTTL       time.Duration // CACHE_TTL, default 60s
	CacheNamespace string        // CACHE_NAMESPACE, default "productapi"
	CacheBypass    string        // CACHE_BYPASS: who may skip the cache with ?nocache=true: admin (default), anyone, off

	SampleData      bool          // LOAD_SAMPLE_DATA: load the bundled sample into an empty database, default true
	MaxBodyBytes    int64         // MAX_BODY_BYTES: JSON request bodies, default 1 MiB
	MaxImportBytes  int64         // MAX_IMPORT_BYTES: CSV imports, default 1 GiB
	LoginPerMinute  int           // LOGIN_RATE_PER_MINUTE: login attempts per client address and per account, default 10
	BcryptCost      int           // BCRYPT_COST, default 10
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT, default 20s
	LogLevel        string        // LOG_LEVEL: debug, info (default), warn, error
}

// Secrets are the variables that may also be given as NAME_FILE.
var Secrets = []string{"DATABASE_URL", "REDIS_URL", "REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD", "JWT_SECRET", "ADMIN_PASSWORD", "ADMIN_EMAIL"}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("config")

// Load reads the configuration: first the .env file at envFile when it
// exists (it never overrides variables already set; "" skips it), then the
// environment. A secret NAME may be given as NAME_FILE, the path of a file
// holding it (one trailing newline is dropped); setting both is an error.
func Load(envFile string) (*Config, error) {
	if err := loadEnvFile(envFile); err != nil {
		return nil, err
	}
	return FromLookup(os.LookupEnv)
}

// LoadPartialAdmin reads the configuration as Load does, without the rule
// that ADMIN_EMAIL and ADMIN_PASSWORD are set together: it is for a command
// that completes them from its flags or a prompt (create-admin).
func LoadPartialAdmin(envFile string) (*Config, error) {
	if err := loadEnvFile(envFile); err != nil {
		return nil, err
	}
	return fromLookup(os.LookupEnv, false)
}

func loadEnvFile(envFile string) error {
	if envFile == "" {
		return nil
	}
	if _, err := os.Stat(envFile); err != nil {
		return nil
	}
	if err := godotenv.Load(envFile); err != nil {
		return fmt.Errorf("%w: reading %s: %w", ErrConfig, envFile, err)
	}
	return nil
}

// FromLookup builds a Config from lookup (os.LookupEnv, or a map in tests).
func FromLookup(lookup func(string) (string, bool)) (*Config, error) {
	return fromLookup(lookup, true)
}

// fromLookup is FromLookup; adminPair says whether ADMIN_EMAIL and
// ADMIN_PASSWORD must be set together.
func fromLookup(lookup func(string) (string, bool), adminPair bool) (*Config, error) {
	r := reader{lookup: lookup}
	c := &Config{
		Env:                   r.str("APP_ENV", Development),
		Addr:                  r.str("ADDR", ":8080"),
		DatabaseURL:           r.secret("DATABASE_URL", "sqlite:productapi.db"),
		RedisURL:              r.secret("REDIS_URL", ""),
		RedisPassword:         r.secret("REDIS_PASSWORD", ""),
		RedisMasterName:       r.str("REDIS_MASTER_NAME", ""),
		RedisSentinelPassword: r.secret("REDIS_SENTINEL_PASSWORD", ""),
		JWTSecret:             r.secret("JWT_SECRET", ""),
		JWTIssuer:             r.str("JWT_ISSUER", "productapi"),
		JWTTTL:                r.duration("JWT_TTL", time.Hour),
		AdminEmail:            r.secret("ADMIN_EMAIL", ""),
		AdminPassword:         r.secret("ADMIN_PASSWORD", ""),
		CacheTTL:              r.duration("CACHE_TTL", 60*time.Second),
		CacheNamespace:        r.str("CACHE_NAMESPACE", "productapi"),
		CacheBypass:           r.str("CACHE_BYPASS", "admin"),
		SampleData:            r.boolean("LOAD_SAMPLE_DATA", true),
		MaxBodyBytes:          r.integer("MAX_BODY_BYTES", 1<<20),
		MaxImportBytes:        r.integer("MAX_IMPORT_BYTES", 1<<30),
		LoginPerMinute:        int(r.integer("LOGIN_RATE_PER_MINUTE", 10)),
		BcryptCost:            int(r.integer("BCRYPT_COST", 10)),
		ShutdownTimeout:       r.duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		LogLevel:              r.str("LOG_LEVEL", "info"),
	}
	if s := r.str("REDIS_ADDRS", ""); s != "" {
		for _, a := range strings.Split(s, ",") {
			if a = strings.TrimSpace(a); a != "" {
				c.RedisAddrs = append(c.RedisAddrs, a)
			}
		}
	}
	if len(r.errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrConfig, errors.Join(r.errs...))
	}
	if err := c.validate(adminPair); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, nil
}

// EmbeddedRedis reports whether no Redis was configured, so the in-process
// development server is used.
func (c *Config) EmbeddedRedis() bool { return c.RedisURL == "" && len(c.RedisAddrs) == 0 }

// Production reports whether APP_ENV is production.
func (c *Config) Production() bool { return c.Env == Production }

// validate checks c; adminPair says whether ADMIN_EMAIL and ADMIN_PASSWORD
// must be set together.
func (c *Config) validate(adminPair bool) error {
	var errs []error
	if c.Env != Development && c.Env != Production {
		errs = append(errs, fmt.Errorf("APP_ENV must be %s or %s, got %q", Development, Production, c.Env))
	}
	if c.RedisURL != "" && len(c.RedisAddrs) > 0 {
		errs = append(errs, errors.New("set REDIS_URL or REDIS_ADDRS, not both"))
	}
	if c.RedisMasterName != "" && len(c.RedisAddrs) == 0 {
		errs = append(errs, errors.New("REDIS_MASTER_NAME needs REDIS_ADDRS naming the sentinels"))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		errs = append(errs, fmt.Errorf("JWT_SECRET must be at least 32 bytes, got %d", len(c.JWTSecret)))
	}
	if c.Production() {
		if c.JWTSecret == "" {
			errs = append(errs, errors.New("APP_ENV=production needs JWT_SECRET (or JWT_SECRET_FILE)"))
		}
		if c.EmbeddedRedis() {
			errs = append(errs, errors.New("APP_ENV=production needs a real Redis: set REDIS_URL or REDIS_ADDRS"))
		}
	}
	if adminPair && (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("set ADMIN_EMAIL and ADMIN_PASSWORD together"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"JWT_TTL", c.JWTTTL}, {"CACHE_TTL", c.CacheTTL}, {"SHUTDOWN_TIMEOUT", c.ShutdownTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %v", d.name, d.v))
		}
	}
	if c.MaxBodyBytes <= 0 || c.MaxImportBytes <= 0 || c.LoginPerMinute <= 0 {
		errs = append(errs, errors.New("MAX_BODY_BYTES, MAX_IMPORT_BYTES and LOGIN_RATE_PER_MINUTE must be positive"))
	}
	if c.BcryptCost < 4 || c.BcryptCost > 31 {
		errs = append(errs, fmt.Errorf("BCRYPT_COST must be from 4 to 31, got %d", c.BcryptCost))
	}
	switch c.CacheBypass {
	case "admin", "anyone", "off":
	default:
		errs = append(errs, fmt.Errorf("CACHE_BYPASS must be admin, anyone or off, got %q", c.CacheBypass))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", c.LogLevel))
	}
	return errors.Join(errs...)
}

// reader reads typed variables, collecting errors.
type reader struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (r *reader) str(name, def string) string {
	if v, ok := r.lookup(name); ok && v != "" {
		return v
	}
	return def
}

func (r *reader) secret(name, def string) string {
	v, set := r.lookup(name)
	path, fileSet := r.lookup(name + "_FILE")
	if fileSet && path != "" {
		if set && v != "" {
			r.errs = append(r.errs, fmt.Errorf("set %s or %s_FILE, not both", name, name))
			return def
		}
		b, err := os.ReadFile(path)
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s_FILE: %w", name, err))
			return def
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if s == "" {
			r.errs = append(r.errs, fmt.Errorf("%s_FILE: %s is empty", name, path))
			return def
		}
		return s
	}
	return r.str(name, def)
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	s := r.str(name, "")
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %w", name, err))
		return def
	}
	return d
}

func (r *reader) integer(name string, def int64) int64 {
	s := r.str(name, "")
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %w", name, err))
		return def
	}
	return n
}

func (r *reader) boolean(name string, def bool) bool {
	s := r.str(name, "")
	if s == "" {
		return def
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %w", name, err))
		return def
	}
	return b
}
