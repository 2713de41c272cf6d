module github.com/auditpull/auditpull

go 1.26.0

require (
	github.com/benthosdev/benthos/v4 v4.27.0 // indirect
	github.com/cenkalti/backoff/v4 v4.3.0 // indirect
	github.com/elastic/go-ucfg v0.8.8 // indirect
	github.com/fluent/fluent-bit-go v0.0.0-20230731091245-a7a013e2473c // indirect
	github.com/golang-jwt/jwt/v5 v5.3.0 // indirect
	github.com/influxdata/telegraf v1.37.2 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)
