package cachefront

// httpConfig holds the settings of Middleware.
type httpConfig struct{}

func defaultHTTPConfig() httpConfig { return httpConfig{} }
