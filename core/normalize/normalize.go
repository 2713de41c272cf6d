// Package normalize renders the sources' events in a common schema, OCSF
// or ECS, for SIEMs that would otherwise need a parser per vendor.
//
// What each vendor record means is data, not code: one Source per vendor
// (tables.go) names where its fields are and maps each type/action to an
// OCSF class and activity; the ECS categorisation follows from the class.
// A record nothing maps, or that lacks what its class requires, becomes an
// OCSF Base Event (ECS: an event without category): mapping never loses an
// event, and the vendor's record is kept whole in every output (OCSF
// unmapped, ECS under the source's name).
package normalize

import (
	"strconv"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Format is an output format: the value of the format option.
type Format string

// The formats.
const (
	Raw  Format = "raw" // the vendor's record, untouched
	OCSF Format = "ocsf"
	ECS  Format = "ecs"
)

// The schema versions the output follows.
const (
	OCSFVersion = "1.3.0"
	ECSVersion  = "9.3.0"
)

// Event is what a mapping reads: the core's decoded event and the source
// that produced it.
type Event struct {
	Source       string
	ID           string
	Time         time.Time
	Type, Action string
	Raw          []byte // the vendor's JSON record
}

// Append renders e in format f at the end of dst. mapped is false when
// nothing mapped the record (or the source is unknown) and it was rendered
// as a base event; Raw returns e.Raw unchanged.
func Append(dst []byte, f Format, e *Event) (out []byte, mapped bool) {
	if f == Raw || f == "" {
		return append(dst, e.Raw...), true
	}
	src := sources[e.Source]
	var r *Row
	if src != nil {
		r = src.lookup(e.Type, e.Action)
	}
	var v view
	v.read(src, r, e)
	if r != nil && !v.complete(r) {
		r = nil // what the class requires is missing: a base event keeps it all
	}
	if f == ECS {
		return v.appendECS(dst, r, e), r != nil
	}
	return v.appendOCSF(dst, src, r, e), r != nil
}

func (s *Source) lookup(typ, action string) *Row {
	if i, ok := s.index[typ+"\x00"+action]; ok {
		return &s.Rows[i]
	}
	if i, ok := s.index[typ+"\x00"]; ok {
		return &s.Rows[i]
	}
	return nil
}

// person is a user as the record names them.
type person struct{ uid, name, email string }

func (p person) empty() bool { return p.uid == "" && p.name == "" && p.email == "" }

// view is what one record says, read through its source's paths.
type view struct {
	user, actor, target       person
	ip, org, orgName          string
	endpoint, endpointName    string
	service                   string
	entityUID, entityName, ok string
	object                    bool // the record is a JSON object
}

func (v *view) read(s *Source, r *Row, e *Event) {
	raw := e.Raw
	for len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\n' || raw[0] == '\r' || raw[0] == '\t') {
		raw = raw[1:]
	}
	v.object = len(raw) > 0 && raw[0] == '{'
	if s == nil || !v.object {
		return
	}
	// A view of the record, not a copy: the values read are appended to
	// the output before Append returns, and the record is not changed.
	doc := unsafe.String(unsafe.SliceData(e.Raw), len(e.Raw))
	get := func(path string) string {
		if path == "" {
			return ""
		}
		res := gjson.Get(doc, path)
		if res.Type == gjson.Null || res.IsObject() || res.IsArray() {
			return ""
		}
		return res.String()
	}
	pers := func(p Person) person { return person{get(p.UID), get(p.Name), get(p.Email)} }
	v.user, v.actor, v.target = pers(s.User), pers(s.Initiator), pers(s.Target)
	if v.user.name == "" {
		v.user.name = v.user.email
	}
	if v.target.empty() {
		v.target = v.user
	} else if v.target.name == "" {
		v.target.name = v.target.email
	}
	if v.actor.empty() {
		v.actor = v.user
	} else if v.actor.name == "" {
		v.actor.name = v.actor.email
	}
	v.ip, v.org, v.orgName = get(s.IP), get(s.Org), get(s.OrgName)
	v.endpoint, v.endpointName, v.service = get(s.Endpoint), get(s.EndpointName), get(s.Service)
	if r != nil {
		v.entityUID, v.entityName = get(r.EntityUID), get(r.EntityName)
		if r.Status == FromOK {
			v.ok = get(s.OK)
		}
	}
}

// complete reports whether the record has what r's class requires.
func (v *view) complete(r *Row) bool {
	switch r.Class {
	case Authentication, AccountChange, GroupManagement:
		return !v.user.empty()
	}
	return v.object
}

func (v *view) status(r *Row) Status {
	if r == nil {
		return Unknown
	}
	if r.Status == FromOK {
		switch v.ok {
		case "true":
			return Success
		case "false":
			return Failure
		}
		return Unknown
	}
	return r.Status
}

// appendOCSF renders the OCSF event of r's class (a Base Event if r is
// nil).
func (v *view) appendOCSF(b []byte, s *Source, r *Row, e *Event) []byte {
	c, act := Base, 99
	if r != nil {
		c, act = r.Class, r.Activity
	}
	ci := classes[c]
	b = append(b, `{"class_uid":`...)
	b = strconv.AppendInt(b, int64(c), 10)
	b = append(b, `,"class_name":`...)
	b = appendString(b, ci.name)
	b = append(b, `,"category_uid":`...)
	b = strconv.AppendInt(b, int64(c)/1000, 10)
	b = append(b, `,"category_name":`...)
	b = appendString(b, ci.category)
	b = append(b, `,"activity_id":`...)
	b = strconv.AppendInt(b, int64(act), 10)
	b = append(b, `,"activity_name":`...)
	name := ci.activity(act)
	b = appendString(b, name)
	b = append(b, `,"type_uid":`...)
	b = strconv.AppendInt(b, int64(c)*100+int64(act), 10)
	b = append(b, `,"type_name":`...)
	b = appendEscaped(appendEscaped(append(b, '"'), ci.name), ": ")
	b = append(appendEscaped(b, name), '"')
	b = append(b, `,"severity_id":1,"severity":"Informational","time":`...)
	b = strconv.AppendInt(b, e.Time.UnixMilli(), 10)
	if st := v.status(r); st != Unknown {
		b = append(b, `,"status_id":`...)
		b = strconv.AppendInt(b, int64(st), 10)
		b = append(b, `,"status":`...)
		b = appendString(b, st.String())
	}
	b = append(b, `,"metadata":{"version":"`+OCSFVersion+`","uid":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"event_code":`...)
	b = appendCode(b, e)
	b = append(b, `,"product":{"vendor_name":`...)
	vendor, product := "Unknown", e.Source
	if s != nil {
		vendor, product = s.Vendor, s.Product
	}
	b = appendString(b, vendor)
	b = append(b, `,"name":`...)
	b = appendString(b, product)
	b = append(b, `}`...)
	if v.org != "" {
		b = append(b, `,"tenant_uid":`...)
		b = appendString(b, v.org)
	}
	b = append(b, '}')
	if r != nil {
		switch c {
		case Authentication:
			b = appendOCSFUser(b, "user", v.user)
			if v.actor != v.user {
				b = appendActor(b, v.actor)
			}
			// The class wants the service or the endpoint authenticated to.
			b = append(b, `,"service":{"name":`...)
			b = appendString(b, or(v.service, s.Product))
			b = append(b, '}')
			if v.endpoint != "" || v.endpointName != "" {
				b = append(b, `,"dst_endpoint":{`...)
				b = appendFields(b, "uid", v.endpoint, "name", v.endpointName)
				b = append(b, '}')
			}
		case AccountChange:
			b = appendOCSFUser(b, "user", v.target)
			b = appendActor(b, v.actor)
		case GroupManagement:
			b = appendOCSFUser(b, "user", v.target)
			b = append(b, `,"group":{`...)
			b = appendFields(b, "uid", v.org, "name", or(v.orgName, "organization"), "type", "Organization")
			b = append(b, '}')
		case EntityManagement:
			b = appendActor(b, v.actor)
			b = append(b, `,"entity":{`...)
			b = appendFields(b, "uid", v.entityUID, "name", or(v.entityName, r.Entity), "type", r.Entity)
			b = append(b, '}')
		}
		if v.ip != "" {
			b = append(b, `,"src_endpoint":{"ip":`...)
			b = appendString(b, v.ip)
			b = append(b, '}')
		}
	}
	return v.appendVendor(append(b, `,"unmapped":`...), e, '}')
}

// appendCode appends the vendor's type and action as one code.
func appendCode(b []byte, e *Event) []byte {
	if e.Action == "" {
		return appendString(b, e.Type)
	}
	b = appendEscaped(append(b, '"'), e.Type)
	b = appendEscaped(append(b, '/'), e.Action)
	return append(b, '"')
}

// appendVendor appends the vendor's record (wrapped when it is not an
// object, which no source returns) and closes the event with end.
func (v *view) appendVendor(b []byte, e *Event, end byte) []byte {
	if v.object {
		b = append(b, e.Raw...)
	} else {
		b = append(b, `{"raw":`...)
		b = appendString(b, string(e.Raw))
		b = append(b, '}')
	}
	return append(b, end)
}

func appendOCSFUser(b []byte, key string, p person) []byte {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":{`...)
	b = appendFields(b, "uid", p.uid, "name", p.name, "email_addr", p.email)
	return append(b, '}')
}

func appendActor(b []byte, p person) []byte {
	if p.empty() {
		return b
	}
	b = append(b, `,"actor":{"user":{`...)
	b = appendFields(b, "uid", p.uid, "name", p.name, "email_addr", p.email)
	return append(b, `}}`...)
}

// appendFields appends "k":"v" pairs, leaving out empty values.
func appendFields(b []byte, kv ...string) []byte {
	first := true
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, kv[i])
		b = append(b, ':')
		b = appendString(b, kv[i+1])
	}
	return b
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// appendECS renders the ECS document; the vendor's record goes under the
// source's name, where ECS puts fields of its own.
func (v *view) appendECS(b []byte, r *Row, e *Event) []byte {
	b = append(b, `{"@timestamp":"`...)
	b = e.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","ecs":{"version":"`+ECSVersion+`"},"event":{"kind":"event"`...)
	if r != nil {
		cat, typ := r.ecs()
		b = append(b, `,"category":[`...)
		b = appendString(b, cat)
		b = append(b, `],"type":[`...)
		for i, t := range typ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	b = append(b, `,"action":`...)
	b = appendString(b, or(e.Action, e.Type))
	b = append(b, `,"outcome":`...)
	b = appendString(b, v.status(r).outcome())
	b = append(b, `,"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"dataset":`...)
	b = appendString(b, "auditpull."+e.Source)
	b = append(b, `,"provider":`...)
	b = appendString(b, e.Source)
	b = append(b, '}')
	// ECS's user is who acted; user.target whom it was done to.
	if !v.actor.empty() {
		b = append(b, `,"user":{`...)
		b = appendFields(b, "id", v.actor.uid, "name", v.actor.name, "email", v.actor.email)
		if v.target != v.actor && !v.target.empty() {
			b = append(b, `,"target":{`...)
			b = appendFields(b, "id", v.target.uid, "name", v.target.name, "email", v.target.email)
			b = append(b, '}')
		}
		b = append(b, '}')
		b = append(b, `,"related":{"user":[`...)
		b = appendRelated(b, v.actor, v.target)
		b = append(b, `]}`...)
	}
	if v.ip != "" {
		b = append(b, `,"source":{"ip":`...)
		b = appendString(b, v.ip)
		b = append(b, '}')
	}
	if v.org != "" || v.orgName != "" {
		b = append(b, `,"organization":{`...)
		b = appendFields(b, "id", v.org, "name", v.orgName)
		b = append(b, '}')
	}
	b = append(b, ',')
	b = appendString(b, e.Source)
	return v.appendVendor(append(b, ':'), e, '}')
}

// appendRelated appends every distinct id, name and email of the people.
func appendRelated(b []byte, ps ...person) []byte {
	var seen [6]string
	n := 0
	for _, p := range ps {
		for _, s := range [...]string{p.uid, p.name, p.email} {
			dup := s == ""
			for _, x := range seen[:n] {
				dup = dup || x == s
			}
			if dup {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			seen[n] = s
			n++
			b = appendString(b, s)
		}
	}
	return b
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	return append(appendEscaped(append(b, '"'), s), '"')
}

// appendEscaped appends s escaped for a JSON string.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			continue
		}
		if c >= 0x80 {
			// U+2028 and U+2029 are valid JSON but break JavaScript readers.
			if c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9) {
				b = append(b, s[start:i]...)
				b = append(b, `\u202`...)
				b = append(b, hex[s[i+2]&0xf])
				i += 2
				start = i + 1
			}
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}
