package sim

import (
	"mime"
	"net/http"
	"strconv"
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

// nordPassLimits fills the defaults the two NordPass APIs share: clocks,
// 2000 requests per 5 minutes (negative: unlimited), the 10,000-record cap
// and the 90-day span.
func nordPassLimits(clock, rateClock *Clock, limit *int, window *time.Duration, capN *int, span *time.Duration) {
	if *clock == nil {
		*clock = RealClock{}
	}
	if *rateClock == nil {
		*rateClock = RealClock{}
	}
	switch {
	case *limit == 0:
		*limit = nordPassDefaultLimit
	case *limit < 0:
		*limit = 0
	}
	if *window <= 0 {
		*window = nordPassDefaultWindow
	}
	if *capN <= 0 {
		*capN = nordPassDefaultCap
	}
	if *span <= 0 {
		*span = nordPassDefaultSpan
	}
}
