package benthos

import (
	// The components the tests' streams use: pure (inproc, none tracer,
	// memory cache …), io (the file cache) and redis (the redis cache).
	_ "github.com/benthosdev/benthos/v4/public/components/io"
	_ "github.com/benthosdev/benthos/v4/public/components/pure"
	_ "github.com/benthosdev/benthos/v4/public/components/redis"
)

// What the tests need to know about the engine they run on. This file is
// the one test file kept by hand in each engine's package (here and in
// plugins/redpanda); the rest is generated from this package.
const (
	// buildPkg is the shipped build with this input compiled in.
	buildPkg = "github.com/auditpull/auditpull/build/benthos"
	// examplesRel holds the example configs the build must lint.
	examplesRel = "../../examples/configs/benthos"
	// readmePath documents every option.
	readmePath = "README.md"
	// hasRedis: the build includes the redis cache, so the cache tests run
	// on Redis as well as on the file cache.
	hasRedis = true
)

// sharedExamples are example configs of another engine that must lint here too.
var sharedExamples []string
