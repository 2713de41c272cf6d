package normalize_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/auditpull/auditpull/core/normalize"
)

// ocsfSchema checks events against the OCSF class and object definitions
// in testdata (the schema's own files, not a JSON Schema rendering of
// them): required attributes, no attribute the class or object does not
// define, types and enums from the dictionary, the objects' constraints,
// and the uids the classification derives.
type ocsfSchema struct {
	dir        string
	dict       map[string]ocsfDictAttr
	types      map[string]string // type → its base type
	categories map[string]int
	files      map[string]string // class or object name → file
	mu         sync.Mutex        // the subtests of each source share the cache
	cache      map[string]*ocsfDef
}

type ocsfDictAttr struct {
	Type       string         `json:"type"`
	ObjectType string         `json:"object_type"`
	IsArray    bool           `json:"is_array"`
	Enum       map[string]any `json:"enum"`
}

type ocsfAttr struct {
	Requirement string         `json:"requirement"`
	Enum        map[string]any `json:"enum"`
	Type        string         `json:"type"`
}

type ocsfFile struct {
	Name        string                     `json:"name"`
	Extends     string                     `json:"extends"`
	UID         int                        `json:"uid"`
	Category    string                     `json:"category"`
	Attributes  map[string]json.RawMessage `json:"attributes"`
	Constraints map[string][]string        `json:"constraints"`
}

type ocsfDef struct {
	name        string
	classUID    int
	categoryUID int
	attrs       map[string]ocsfAttr
	constraints map[string][]string
}

func loadOCSF(t *testing.T) *ocsfSchema {
	t.Helper()
	s := &ocsfSchema{dir: filepath.Join("testdata", "ocsf-"+normalize.OCSFVersion), files: map[string]string{}, cache: map[string]*ocsfDef{}, types: map[string]string{}}
	var dict struct {
		Attributes map[string]ocsfDictAttr `json:"attributes"`
		Types      struct {
			Attributes map[string]struct {
				Type string `json:"type"`
			} `json:"attributes"`
		} `json:"types"`
	}
	readJSON(t, filepath.Join(s.dir, "dictionary.json"), &dict)
	s.dict = dict.Attributes
	for name, ty := range dict.Types.Attributes {
		s.types[name] = ty.Type
	}
	var cats struct {
		Attributes map[string]struct {
			UID int `json:"uid"`
		} `json:"attributes"`
	}
	readJSON(t, filepath.Join(s.dir, "categories.json"), &cats)
	s.categories = map[string]int{"other": 0}
	for name, c := range cats.Attributes {
		s.categories[name] = c.UID
	}
	for _, sub := range []string{"events", "objects"} {
		err := filepath.WalkDir(filepath.Join(s.dir, sub), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			var f ocsfFile
			readJSON(t, path, &f)
			s.files[sub+"/"+f.Name] = path
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// def resolves a class ("events/authentication") or an object
// ("objects/user"): what it extends, then its includes, then its own
// attributes. Profiles' attributes are optional: no event declares one.
func (s *ocsfSchema) def(key string) (*ocsfDef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.defLocked(key)
}

func (s *ocsfSchema) defLocked(key string) (*ocsfDef, error) {
	if d, ok := s.cache[key]; ok {
		return d, nil
	}
	path, ok := s.files[key]
	if !ok {
		return nil, fmt.Errorf("%s is not in testdata", key)
	}
	var f ocsfFile
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	d := &ocsfDef{name: f.Name, attrs: map[string]ocsfAttr{}, constraints: f.Constraints}
	if f.Extends != "" {
		parent, err := s.defLocked(key[:strings.IndexByte(key, '/')+1] + f.Extends)
		if err != nil {
			return nil, err
		}
		for k, v := range parent.attrs {
			d.attrs[k] = v
		}
		d.categoryUID = parent.categoryUID
		if d.constraints == nil {
			d.constraints = parent.constraints
		}
	}
	if f.Category != "" {
		d.categoryUID = s.categories[f.Category]
	}
	d.classUID = d.categoryUID*1000 + f.UID
	if inc, ok := f.Attributes["$include"]; ok {
		var files []string
		if err := json.Unmarshal(inc, &files); err != nil {
			return nil, err
		}
		for _, file := range files {
			var f ocsfFile
			b, err := os.ReadFile(filepath.Join(s.dir, file))
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(b, &f); err != nil {
				return nil, err
			}
			for k, raw := range f.Attributes {
				var a ocsfAttr
				if err := json.Unmarshal(raw, &a); err != nil {
					return nil, err
				}
				if strings.HasPrefix(file, "profiles/") {
					a.Requirement = "optional"
				}
				d.attrs[k] = merge(d.attrs[k], a)
			}
		}
	}
	for k, raw := range f.Attributes {
		if k == "$include" {
			continue
		}
		var a ocsfAttr
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		d.attrs[k] = merge(d.attrs[k], a)
	}
	s.cache[key] = d
	return d, nil
}

func merge(old, a ocsfAttr) ocsfAttr {
	if a.Requirement == "" {
		a.Requirement = old.Requirement
	}
	if a.Type == "" {
		a.Type = old.Type
	}
	if len(old.Enum) > 0 {
		e := map[string]any{}
		for k, v := range old.Enum {
			e[k] = v
		}
		for k, v := range a.Enum {
			e[k] = v
		}
		a.Enum = e
	}
	return a
}

// validate returns what is wrong with the event.
func (s *ocsfSchema) validate(ev map[string]any) []string {
	uid, err := ev["class_uid"].(json.Number).Int64()
	if err != nil {
		return []string{"class_uid is not an integer"}
	}
	var class *ocsfDef
	for key := range s.files {
		if !strings.HasPrefix(key, "events/") {
			continue
		}
		d, err := s.def(key)
		if err != nil {
			return []string{err.Error()}
		}
		if int64(d.classUID) == uid && (uid != 0 || d.name == "base_event") {
			class = d
		}
	}
	if class == nil {
		return []string{fmt.Sprintf("class %d is not in testdata", uid)}
	}
	var errs []string
	s.check(class, ev, "", &errs)
	num := func(k string) int64 { n, _ := ev[k].(json.Number).Int64(); return n }
	if num("category_uid") != int64(class.categoryUID) {
		errs = append(errs, fmt.Sprintf("category_uid %d, class %s is in %d", num("category_uid"), class.name, class.categoryUID))
	}
	if num("type_uid") != uid*100+num("activity_id") {
		errs = append(errs, fmt.Sprintf("type_uid %d is not class_uid*100 + activity_id", num("type_uid")))
	}
	if name, _ := ev["activity_name"].(string); name != caption(class.attrs["activity_id"].Enum, num("activity_id")) {
		errs = append(errs, fmt.Sprintf("activity_name %q is not activity %d's caption", name, num("activity_id")))
	}
	return errs
}

func caption(enum map[string]any, id int64) string {
	e, _ := enum[strconv.FormatInt(id, 10)].(map[string]any)
	c, _ := e["caption"].(string)
	return c
}

// check validates obj against d, reporting with the path at.
func (s *ocsfSchema) check(d *ocsfDef, obj map[string]any, at string, errs *[]string) {
	add := func(format string, args ...any) { *errs = append(*errs, at+fmt.Sprintf(format, args...)) }
	for name, a := range d.attrs {
		if _, ok := obj[name]; !ok && a.Requirement == "required" {
			add("%s is required in %s", name, d.name)
		}
	}
	for rule, names := range d.constraints {
		n := 0
		for _, name := range names {
			if _, ok := obj[name]; ok {
				n++
			}
		}
		if (rule == "at_least_one" && n == 0) || (rule == "just_one" && n != 1) {
			add("%s %s: %v", d.name, rule, names)
		}
	}
	for name, v := range obj {
		a, ok := d.attrs[name]
		if !ok {
			add("%s is not an attribute of %s", name, d.name)
			continue
		}
		da, ok := s.dict[name]
		if !ok {
			add("%s is not in the dictionary", name)
			continue
		}
		typ := da.Type
		if a.Type != "" {
			typ = a.Type
		}
		vals := []any{v}
		if da.IsArray {
			arr, ok := v.([]any)
			if !ok {
				add("%s must be an array", name)
				continue
			}
			vals = arr
		}
		enum := a.Enum
		if len(enum) == 0 {
			enum = da.Enum
		} else {
			enum = merge(ocsfAttr{Enum: da.Enum}, ocsfAttr{Enum: a.Enum}).Enum
		}
		for _, v := range vals {
			s.checkValue(name, typ, da.ObjectType, enum, v, at, errs)
		}
	}
}

func (s *ocsfSchema) checkValue(name, typ, objType string, enum map[string]any, v any, at string, errs *[]string) {
	add := func(format string, args ...any) { *errs = append(*errs, at+fmt.Sprintf(format, args...)) }
	base := typ
	for i := 0; i < 5 && s.types[base] != "" && s.types[base] != base; i++ {
		base = s.types[base]
	}
	if _, ok := s.types[base]; !ok && base != "object_t" {
		// 1.3.0 names an object attribute's object as its type.
		base, objType = "object_t", typ
	}
	switch base {
	case "string_t":
		str, ok := v.(string)
		if !ok {
			add("%s must be a string (%s)", name, typ)
			return
		}
		if typ == "ip_t" && net.ParseIP(str) == nil {
			add("%s %q is not an IP address", name, str)
		}
		if typ == "email_t" && !strings.Contains(str, "@") {
			add("%s %q is not an email address", name, str)
		}
	case "integer_t", "long_t":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			add("%s must be an integer (%s)", name, typ)
			return
		}
		// The classification uids are checked against the class itself.
		if len(enum) > 0 && name != "class_uid" && name != "category_uid" && name != "type_uid" {
			if _, ok := enum[n.String()]; !ok {
				add("%s %s is not one of %v", name, n, keys(enum))
			}
		}
	case "boolean_t":
		if _, ok := v.(bool); !ok {
			add("%s must be a boolean", name)
		}
	case "object_t":
		obj, ok := v.(map[string]any)
		if !ok {
			add("%s must be an object", name)
			return
		}
		if objType == "object" {
			return // free-form (unmapped)
		}
		d, err := s.def("objects/" + objType)
		if err != nil {
			add("%s: %v", name, err)
			return
		}
		s.check(d, obj, at+name+".", errs)
	case "json_t":
	default:
		add("%s has type %s, which the checker does not know", name, typ)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
