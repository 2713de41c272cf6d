package redpanda

import (
	// The components the tests' streams use, all the engine has: pure
	// (inproc, none tracer, memory cache, local rate limit …) and io (the
	// file cache). Redis lives in Redpanda Connect's connectors, which are
	// not open-source licensed: the cache tests run on the file cache.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// What the tests need to know about the engine they run on. This file is
// kept by hand; the rest of the package is generated from plugins/benthos.
const (
	// buildPkg is the shipped build with this input compiled in.
	buildPkg = "github.com/auditpull/auditpull/build/redpanda"
	// examplesRel holds the example configs the build must lint.
	examplesRel = "../../examples/configs/redpanda"
	// readmePath documents every option, for both engines.
	readmePath = "../benthos/README.md"
	// hasRedis: the build includes the redis cache.
	hasRedis = false
)

// sharedExamples are example configs of another engine that this build
// runs unchanged, so they must lint here too.
var sharedExamples = []string{
	"../../examples/configs/benthos/nordpass_msp.yaml",
	"../../examples/configs/benthos/oloid.yaml",
	"../../examples/configs/benthos/qualtrics.yaml",
}
