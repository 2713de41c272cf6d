package nordpass_test

import (
	"encoding/json"
	"io"
)

func jsonUnmarshal(b []byte, v any) error   { return json.Unmarshal(b, v) }
func ioNopCloser(r io.Reader) io.ReadCloser { return io.NopCloser(r) }
