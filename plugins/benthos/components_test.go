package benthos

import (
	// The components the tests' streams use: pure (inproc, none tracer,
	// memory cache …) and redis (the redis cache).
	_ "github.com/benthosdev/benthos/v4/public/components/pure"
	_ "github.com/benthosdev/benthos/v4/public/components/redis"
)
