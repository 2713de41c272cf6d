package sim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// NordPassPrefix is where NewServer users conventionally mount NordPass:
// its base URL is then http://HOST/nordpass.
const NordPassPrefix = "/nordpass"

// Server serves several simulated vendors from one listener, each under
// its own path prefix, so one process (or one httptest.Server) can stand in
// for every API a configuration polls. Adding a vendor is one Mount call.
type Server struct {
	mu       sync.RWMutex
	mux      *http.ServeMux
	prefixes []string
}

// NewServer returns a server with nothing mounted. GET / lists the mounted
// prefixes, which doubles as a readiness probe.
func NewServer() *Server {
	s := &Server{mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.index)
	return s
}

// Mount serves h under prefix (for example "/nordpass"): a request for
// prefix+"/activities/query" reaches h as "/activities/query". Mount
// returns s so calls chain. It panics if prefix is malformed or taken.
func (s *Server) Mount(prefix string, h http.Handler) *Server {
	if !strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") {
		panic(fmt.Sprintf("sim: mount prefix %q must start and not end with /", prefix))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	s.prefixes = append(s.prefixes, prefix)
	slices.Sort(s.prefixes)
	return s
}

// ServeHTTP routes r to the vendor mounted under its path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "auditpull-sim")
	for _, p := range s.prefixes {
		fmt.Fprintln(w, p)
	}
}
