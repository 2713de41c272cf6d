package benthos

// plugins/redpanda is this package on Redpanda Connect's engine, generated.
//go:generate go run ./internal/enginegen
