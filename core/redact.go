package core

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// Error bodies end up in errors and log lines (Snippet), and some servers,
// gateways and debugging proxies echo the request in them: its body (a
// login's password) or its headers (the token). The Requester scrubs every
// error it returns or logs of the source's configured secrets and of the
// credentials the failed request carried.

// redacted replaces a credential in error text.
const redacted = "[redacted]"

// minSecret is the shortest value that is scrubbed: shorter ones would
// blank out ordinary words, and are no credential anyway.
const minSecret = 4

// secretsOf collects the values of every Secret in v (a source's checked
// section): in nested structs, behind pointers and interfaces, in slices,
// arrays and maps.
func secretsOf(v any) []string {
	var out []string
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if !v.IsValid() || depth > 16 || !mayHoldSecret(v.Type()) {
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			walk(v.Elem(), depth+1)
		case reflect.Interface:
			walk(v.Elem(), depth+1)
		case reflect.Struct:
			if v.Type() == secretType {
				// Read through reflect: the field is unexported, and the
				// value may sit in an unexported field of the section.
				out = append(out, v.Field(0).String())
				return
			}
			for i := range v.NumField() {
				walk(v.Field(i), depth+1)
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value(), depth+1)
			}
		}
	}
	if v != nil {
		walk(reflect.ValueOf(v), 0)
	}
	return out
}

// mayHoldSecret reports whether a value of type t can hold a Secret, so
// that the walk skips what cannot (a big.Int's words, a byte slice).
func mayHoldSecret(t reflect.Type) bool {
	return holdsSecret(t, map[reflect.Type]bool{})
}

func holdsSecret(t reflect.Type, visiting map[reflect.Type]bool) bool {
	if visiting[t] {
		return false // a cycle: the type's other paths decide
	}
	visiting[t] = true
	defer delete(visiting, t)
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return holdsSecret(t.Elem(), visiting)
	case reflect.Struct:
		if t == secretType {
			return true
		}
		for i := range t.NumField() {
			if holdsSecret(t.Field(i).Type, visiting) {
				return true
			}
		}
	}
	return false
}

// headerSecrets are the credentials a request carries in its headers:
// Authorization and Proxy-Authorization (whole, and after the scheme),
// Cookie (whole, and each cookie's value), and any header whose name says
// it holds a token, key, secret or authentication.
func headerSecrets(h http.Header) []string {
	var out []string
	for name, vs := range h {
		n := strings.ToLower(name)
		credential := n == "cookie" || strings.Contains(n, "token") || strings.Contains(n, "key") ||
			strings.Contains(n, "secret") || strings.Contains(n, "auth")
		if !credential {
			continue
		}
		for _, v := range vs {
			out = append(out, v)
			if _, cred, ok := strings.Cut(v, " "); ok && strings.Contains(n, "auth") {
				out = append(out, strings.TrimSpace(cred))
			}
			if n == "cookie" {
				for c := range strings.SplitSeq(v, ";") {
					if _, val, ok := strings.Cut(c, "="); ok {
						out = append(out, strings.TrimSpace(val))
					}
				}
			}
		}
	}
	return out
}

// redactForms returns each secret as error text may hold it: as it is,
// escaped in a JSON string (with and without HTML escaping, once or twice),
// escaped in a URL query, and as Snippet renders it; longest first, so
// that a secret holding another is replaced whole.
func redactForms(secrets []string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minSecret && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, s := range secrets {
		if len(s) < minSecret {
			continue
		}
		add(s)
		for _, j := range jsonEscaped(s) {
			add(j)
			// A JSON request body quoted in a JSON error.
			for _, jj := range jsonEscaped(j) {
				add(jj)
			}
		}
		add(url.QueryEscape(s))
		add(strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s))
	}
	slices.SortStableFunc(out, longestFirst)
	return out
}

func longestFirst(a, b string) int { return len(b) - len(a) }

// jsonEscaped is s inside a JSON string, as encoders write it with and
// without escaping HTML's characters.
func jsonEscaped(s string) []string {
	var out []string
	for _, html := range []bool{true, false} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(s) == nil {
			j := strings.TrimSuffix(b.String(), "\n")
			out = append(out, j[1:len(j)-1])
		}
	}
	return out
}

// redactText replaces every form of a secret in text, and the start of one
// that Snippet cut off before its "…".
func redactText(text string, forms []string) string {
	for _, f := range forms {
		text = strings.ReplaceAll(text, f, redacted)
	}
	const ellipsis = "…"
	var b strings.Builder
	rest := text
	for {
		i := strings.Index(rest, ellipsis)
		if i < 0 {
			break
		}
		head := rest[:i]
		// Snippet cuts bytes, so a cut rune shows as U+FFFD.
		trimmed := strings.TrimRight(head, string(utf8.RuneError))
		n := 0 // the longest tail of trimmed that starts a secret
		for _, f := range forms {
			for k := min(len(f)-1, len(trimmed)); k >= minSecret && k > n; k-- {
				if strings.HasSuffix(trimmed, f[:k]) {
					n = k
					break
				}
			}
		}
		if n > 0 {
			head = trimmed[:len(trimmed)-n] + redacted
		}
		b.WriteString(head + ellipsis)
		rest = rest[i+len(ellipsis):]
	}
	b.WriteString(rest)
	return b.String()
}

// redactedError is an error whose text held a credential: Error is the
// scrubbed text, and the error chain is the original's, so callers still
// classify it (errors.As, errors.Is, IsFatal). Callers that read a
// classified error's own fields (an AuthError's Reason) get a copy with
// those scrubbed too.
type redactedError struct {
	msg   string
	err   error
	forms []string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// As hands out scrubbed copies of the classified errors whose fields hold
// text.
func (e *redactedError) As(target any) bool {
	switch t := target.(type) {
	case **AuthError:
		var a *AuthError
		if !errors.As(e.err, &a) {
			return false
		}
		c := *a
		c.Reason = redactText(c.Reason, e.forms)
		*t = &c
	case **RequestError:
		var r *RequestError
		if !errors.As(e.err, &r) {
			return false
		}
		c := *r
		c.Reason = redactText(c.Reason, e.forms)
		*t = &c
	case **TransientError:
		var te *TransientError
		if !errors.As(e.err, &te) {
			return false
		}
		c := *te
		c.Err = redactError(c.Err, e.forms)
		*t = &c
	default:
		return false
	}
	return true
}

// redactError is err with every form of a secret scrubbed from its text;
// err itself when its text holds none.
func redactError(err error, forms []string) error {
	if err == nil || len(forms) == 0 {
		return err
	}
	msg := err.Error()
	clean := redactText(msg, forms)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err, forms: forms}
}
