// Command redpanda-benthos is the Redpanda Connect engine
// (github.com/redpanda-data/benthos/v4, v4.60.0) with auditpull's input
// compiled in, and the components the engine itself ships: pure
// (processors, Bloblang, memory/lru caches, the local rate limit) and io
// (stdout, files, HTTP, sockets, the file cache). Redpanda Connect's other
// connectors are not open-source licensed and stay out; a team with a
// Redpanda Connect build adds the input there with one import (see
// plugins/benthos/README.md).
//
//	make build && build/out/redpanda-benthos -c examples/configs/redpanda/demo.yaml
package main

import (
	"context"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/auditpull/auditpull/plugins/redpanda" // input: auditpull
)

func main() {
	service.RunCLI(context.Background())
}
