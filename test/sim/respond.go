package sim

import (
	"context"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Helpers every vendor's handler shares.

// isJSON reports whether r declares a JSON body.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// writeRaw sends an already rendered JSON body.
func writeRaw(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// gatewayDefaults fills the gateway settings every vendor's config
// carries: both clocks default to the real one, a zero limit means defLimit
// and a negative one unlimited, and a window of zero or less means
// defWindow.
func gatewayDefaults(clock, rateClock *Clock, limit *int, window *time.Duration, defLimit int, defWindow time.Duration) {
	if *clock == nil {
		*clock = RealClock{}
	}
	if *rateClock == nil {
		*rateClock = RealClock{}
	}
	switch {
	case *limit == 0:
		*limit = defLimit
	case *limit < 0:
		*limit = 0
	}
	if *window <= 0 {
		*window = defWindow
	}
}

// historyDefaults makes an unset history end now by clock and start span
// before its end.
func historyDefaults(from, to *time.Time, clock Clock, span time.Duration) {
	if to.IsZero() {
		*to = clock.Now()
	}
	if from.IsZero() {
		*from = to.Add(-span)
	}
}

// nordPassLimits fills the defaults the two NordPass APIs share: clocks,
// 2000 requests per 5 minutes (negative: unlimited), the 10,000-record cap
// and the 90-day span.
func nordPassLimits(clock, rateClock *Clock, limit *int, window *time.Duration, capN *int, span *time.Duration) {
	gatewayDefaults(clock, rateClock, limit, window, nordPassDefaultLimit, nordPassDefaultWindow)
	if *capN <= 0 {
		*capN = nordPassDefaultCap
	}
	if *span <= 0 {
		*span = nordPassDefaultSpan
	}
}

// elements returns a function that appends JSON array elements to *buf,
// comma-separated, counting them in *n.
func elements(buf *[]byte, n *int) func(json []byte) {
	return func(j []byte) {
		if *n > 0 {
			*buf = append(*buf, ',')
		}
		*buf = append(*buf, j...)
		*n++
	}
}

// pageHook counts the intact data pages a vendor served and calls a test's
// hook with the count for each, once the page is rendered and before it is
// written (see NordPass.OnServe for why before).
type pageHook struct {
	mu     sync.Mutex
	served int
	f      func(page int)
}

func (h *pageHook) set(f func(page int)) {
	h.mu.Lock()
	h.f = f
	h.mu.Unlock()
}

// fire counts the page and calls the hook, unless a fault will damage the
// page on its way (ctx is the request's).
func (h *pageHook) fire(ctx context.Context) {
	if damaged(ctx) {
		return
	}
	h.mu.Lock()
	h.served++
	f, n := h.f, h.served
	h.mu.Unlock()
	if f != nil {
		f(n)
	}
}
