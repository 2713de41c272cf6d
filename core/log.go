package core

// Logger is the small interface adapters bind to their host's logger
// (Telegraf's telegraf.Logger, Benthos' service.Logger, Fluent Bit's stderr).
// Key/value pairs follow the message, slog style.
type Logger interface {
	Debug(msg string, kv ...any)
	Info(msg string, kv ...any)
	Warn(msg string, kv ...any)
	Error(msg string, kv ...any)
}

// NopLogger discards everything.
type NopLogger struct{}

func (NopLogger) Debug(string, ...any) {}
func (NopLogger) Info(string, ...any)  {}
func (NopLogger) Warn(string, ...any)  {}
func (NopLogger) Error(string, ...any) {}
