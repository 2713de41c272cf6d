package core

import "context"

// RegisterTyped registers a source whose section unpacks into S and is
// checked once into P, its ready-to-use configuration. The section is
// unpacked and checked when the config is parsed, so a bad config never
// starts, and Open is handed that same P instead of reading the section a
// second time. A Config that did not come through Parse (or came through
// it for another source) is checked when the source opens.
func RegisterTyped[S, P any](name, doc string, check func(cfg *Config, s *S) (P, error), open func(ctx context.Context, env SourceEnv, p P) ([]Source, error)) {
	parse := func(cfg *Config) (P, error) {
		s := new(S)
		if err := UnpackStrict(cfg.SourceSection(), s, name+"."); err != nil {
			var zero P
			return zero, err
		}
		return check(cfg, s)
	}
	Register(name, Factory{
		Doc: doc,
		Validate: func(cfg *Config) error {
			p, err := parse(cfg)
			if err == nil {
				cfg.checked = p
			}
			return err
		},
		Settings: func() any { return new(S) },
		Open: func(ctx context.Context, env SourceEnv) ([]Source, error) {
			p, ok := env.Config.checked.(P)
			if !ok {
				var err error
				if p, err = parse(env.Config); err != nil {
					return nil, err
				}
				// The Requester scrubs errors of the secrets it finds in
				// the checked section; the caller's Config stays as it is.
				c := *env.Config
				c.checked = p
				env.Config = &c
			}
			return open(ctx, env, p)
		},
	})
}

// PageSize is the configured page_size, or def, the source's own, when
// none is set.
func (e SourceEnv) PageSize(def int) int {
	if e.Config.PageSize == 0 {
		return def
	}
	return e.Config.PageSize
}
