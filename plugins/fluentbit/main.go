// Command in_auditpull is auditpull's Fluent Bit input, built as a C shared
// library (go build -buildmode=c-shared) and loaded by Fluent Bit's Go proxy:
// one .so, plugin name "auditpull", every registered source.
//
// Fluent Bit calls the collect callback of each instance about once a
// second, on a fixed timer, from the instance's own thread; a slow callback
// stalls that input. So a goroutine per instance drives the core poller
// (which waits on the network, rate limits and retries), and the callback
// only takes the pages that are ready, without blocking, up to
// callback_max_bytes. The records are copied into malloc'ed memory that the
// cleanup callback frees. Fluent Bit runs every Go input as a threaded
// input: when it gives the buffer back, the records are in the input's ring
// buffer, which the engine moves into a chunk every 250 ms. So the pages
// are acked — and the checkpoint moves — only at a later callback, once
// commit_delay has passed (see instance.commit).
//
// Logs and metrics go through Fluent Bit: its logger (log_print, from the
// instance's thread so that log_file applies) and the instance's cmetrics
// context (/api/v2/metrics, prometheus_exporter).
//
// See README.md for the supported Fluent Bit versions and the configuration.
package main

/*
#include <stdlib.h>
#include <string.h>
#include "flb_abi.h"
*/
import "C"

import (
	"time"
	"unsafe"

	"github.com/auditpull/auditpull/core"
	_ "github.com/auditpull/auditpull/core/source/all" // every source
)

// Name is the plugin's name in Fluent Bit configurations.
const Name = "auditpull"

const description = "auditpull: SaaS audit and activity logs (NordPass and more) with checkpoints"

var reg = newRegistry()

func main() {}

// FLBPluginRegister fills the proxy definition: an input, Go proxy, named
// auditpull.
//
//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) C.int {
	C.ap_register((*C.struct_ap_proxy_def)(def), C.CString(Name), C.CString(description))
	return 0
}

// FLBPluginUnregister frees what FLBPluginRegister allocated.
//
//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) {
	C.ap_unregister((*C.struct_ap_proxy_def)(def))
}

// FLBPluginInit starts one instance. Fluent Bit shares one plugin struct
// between the instances of the plugin and points it at the instance being
// initialised, so every property is read here, before returning. On Fluent
// Bit >= 4.1 the instance's handle is stored in the proxy context and comes
// back with each Ctx callback.
//
//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) C.int {
	p := (*C.struct_ap_go_input_plugin)(plugin)
	get := func(key string) string {
		ck := C.CString(key)
		defer C.free(unsafe.Pointer(ck))
		v := C.ap_get_property(p, ck)
		if v == nil {
			return ""
		}
		// strlen, not C.GoString: Go's vectorised scan reads past the
		// terminator (harmlessly, within the word), which valgrind reports.
		return C.GoStringN(v, C.int(C.strlen(v)))
	}
	api := p.api
	h := host{
		level:   int(C.ap_log_level(p)),
		metrics: func(name string, m *core.Metrics) *hostMetrics { return newHostMetrics(p, name, m) },
	}
	if api != nil && api.log_print != nil {
		h.print = func(level int, msg string) {
			cmsg := C.CString(msg)
			C.ap_log_print(api, C.int(level), cmsg)
			C.free(unsafe.Pointer(cmsg))
		}
	}
	in, err := reg.start(get, h, uint64(C.ap_thread_id()))
	if err != nil {
		return C.AP_FLB_ERROR // start has logged why
	}
	defer in.log.flush()
	switch C.ap_context_layout(p) {
	case C.AP_LAYOUT_41:
		C.ap_set_remote_context(p, C.uintptr_t(in.id))
	case C.AP_LAYOUT_20:
		// Fluent Bit < 4.1: plain callbacks only, told apart by thread.
	default:
		in.log.Debug("unrecognised proxy context; instances are told apart by thread")
	}
	return C.AP_FLB_OK
}

// FLBPluginInputCallback is the collect callback of Fluent Bit < 4.1.
//
//export FLBPluginInputCallback
func FLBPluginInputCallback(data *unsafe.Pointer, size *C.size_t) C.int {
	return export(collect(0, uint64(C.ap_thread_id())), data, size)
}

// FLBPluginInputCallbackCtx is the collect callback of Fluent Bit >= 4.1.
// ctx is the handle FLBPluginInit stored (a number, not a pointer).
//
//export FLBPluginInputCallbackCtx
func FLBPluginInputCallbackCtx(ctx C.uintptr_t, data *unsafe.Pointer, size *C.size_t) C.int {
	return export(collect(uintptr(ctx), uint64(C.ap_thread_id())), data, size)
}

// FLBPluginInputCleanupCallback frees a buffer Fluent Bit has appended.
//
//export FLBPluginInputCleanupCallback
func FLBPluginInputCleanupCallback(data unsafe.Pointer) C.int {
	return cleanup(data)
}

// FLBPluginInputCleanupCallbackCtx is the same for Fluent Bit >= 4.1.
//
//export FLBPluginInputCleanupCallbackCtx
func FLBPluginInputCleanupCallbackCtx(ctx C.uintptr_t, data unsafe.Pointer) C.int {
	return cleanup(data)
}

// FLBPluginInputPause is called on the instance's thread when Fluent Bit
// pauses the input (buffer limits, shutdown; Fluent Bit >= 2.2), without
// saying which instance: the thread tells.
//
//export FLBPluginInputPause
func FLBPluginInputPause() {
	for _, in := range reg.onThread(uint64(C.ap_thread_id())) {
		in.pause(time.Now())
		in.log.flush()
	}
}

// FLBPluginInputResume is FLBPluginInputPause's counterpart.
//
//export FLBPluginInputResume
func FLBPluginInputResume() {
	for _, in := range reg.onThread(uint64(C.ap_thread_id())) {
		in.resume(time.Now())
		in.log.flush()
	}
}

// FLBPluginExit stops the calling thread's instance (all of them when called
// from elsewhere) and writes its checkpoint.
//
//export FLBPluginExit
func FLBPluginExit() C.int {
	reg.exit(uint64(C.ap_thread_id()))
	return C.AP_FLB_OK
}

// collected is what one collect call hands to Fluent Bit.
type collected struct {
	buf  unsafe.Pointer // malloc'ed; nil when size is 0
	size int
	ok   bool // false: no such instance
}

func export(c collected, data *unsafe.Pointer, size *C.size_t) C.int {
	*data = c.buf
	*size = C.size_t(c.size)
	if !c.ok {
		return C.AP_FLB_ERROR
	}
	return C.AP_FLB_OK
}

// collect takes the records that are ready for the instance of handle (or,
// for plain callbacks, of thread tid). Nothing ready, or an instance that is
// unknown or stopped, is size 0 and no buffer: Fluent Bit appends whatever
// size says, whatever the return value (only -1 is a failure, and then it
// would not free the buffer).
func collect(handle uintptr, tid uint64) collected {
	in := reg.lookup(handle, tid)
	if in == nil {
		return collected{}
	}
	defer in.log.flush()
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.stopped {
		return collected{ok: true}
	}
	now := time.Now()
	reg.settle(in, now)
	in.commit(now)
	in.metrics.sync()
	pieces, total := in.drain()
	if total == 0 {
		return collected{ok: true}
	}
	buf := C.malloc(C.size_t(total))
	dst := unsafe.Slice((*byte)(buf), total)
	off := 0
	for _, p := range pieces {
		off += copy(dst[off:], p.data)
	}
	reg.track(in, uintptr(buf), pieces)
	return collected{buf: buf, size: total, ok: true}
}

// cleanup frees a buffer collect allocated and acks its batches. A pointer
// the plugin did not hand out is left alone.
func cleanup(data unsafe.Pointer) C.int {
	if data == nil {
		return C.AP_FLB_OK
	}
	if !reg.release(uintptr(data)) {
		return C.AP_FLB_ERROR
	}
	C.free(data)
	return C.AP_FLB_OK
}

// hostFree frees a buffer the way a host without cleanup callback does (the
// tests play such a host).
func hostFree(p unsafe.Pointer) { C.free(p) }
