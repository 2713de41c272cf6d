// Command benthos is the Benthos (v4.27.0) CLI with auditpull's input
// compiled in, and a deliberate set of components: what an audit-log
// pipeline needs to reach a SIEM without the cloud SDKs. The choice is
// explained in plugins/benthos/README.md; one import line adds a component.
//
//	make build && build/out/benthos -c examples/configs/benthos/demo.yaml
package main

import (
	"context"

	_ "github.com/benthosdev/benthos/v4/public/components/elasticsearch"
	_ "github.com/benthosdev/benthos/v4/public/components/io"
	_ "github.com/benthosdev/benthos/v4/public/components/kafka"
	_ "github.com/benthosdev/benthos/v4/public/components/prometheus"
	_ "github.com/benthosdev/benthos/v4/public/components/pure"
	_ "github.com/benthosdev/benthos/v4/public/components/redis"
	_ "github.com/benthosdev/benthos/v4/public/components/splunk"
	"github.com/benthosdev/benthos/v4/public/service"

	_ "github.com/auditpull/auditpull/plugins/benthos" // input: auditpull
)

func main() {
	service.RunCLI(context.Background())
}
