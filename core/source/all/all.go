// Package all registers every source. Hosts import it for its side effect;
// a new vendor adds one line here.
package all

import (
	_ "github.com/auditpull/auditpull/core/source/nordpass"
	_ "github.com/auditpull/auditpull/core/source/nordpassmsp"
	_ "github.com/auditpull/auditpull/core/source/oloid"
	_ "github.com/auditpull/auditpull/core/source/qualtrics"
)
