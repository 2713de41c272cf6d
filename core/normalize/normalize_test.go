package normalize_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/core/normalize"
)

var t1 = time.Date(2026, 3, 1, 10, 30, 0, 250e6, time.UTC)

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return doc
}

// at reads a dotted path of a decoded document as a string.
func at(doc map[string]any, path string) string {
	var v any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestMappings(t *testing.T) {
	ocsf, ecs := loadOCSF(t), loadECS(t)
	const npLogin = `{"type":"app_access","action":"app_login","timestamp":1772361000,"organization_uuid":"org-1","user":{"uuid":"u-1","email":"ann@example.com"},"initiator":null,"metadata":{"client":"web_vault"}}`
	cases := []struct {
		name   string
		e      normalize.Event
		mapped bool
		ocsf   map[string]string // path → value ("" absent)
		ecs    map[string]string
	}{
		{"a login is an Authentication Logon of the user", normalize.Event{Source: "nordpass", ID: "id-1", Type: "app_access", Action: "app_login", Raw: []byte(npLogin)}, true,
			map[string]string{"class_uid": "3002", "activity_id": "1", "type_uid": "300201", "status_id": "1", "time": "1772361000250",
				"user.uid": "u-1", "user.email_addr": "ann@example.com", "metadata.uid": "id-1", "metadata.product.vendor_name": "Nord Security",
				"metadata.version": normalize.OCSFVersion, "unmapped.metadata.client": "web_vault"},
			map[string]string{"@timestamp": "2026-03-01T10:30:00.250Z", "event.category": `["authentication"]`, "event.type": `["start"]`,
				"event.outcome": "success", "event.action": "app_login", "user.id": "u-1", "organization.id": "org-1", "related.user": `["u-1","ann@example.com"]`,
				"nordpass.metadata.client": "web_vault"}},
		{"an admin's change names the admin as actor and the member as user",
			normalize.Event{Source: "nordpass", ID: "id-2", Type: "member_management", Action: "member_suspended",
				Raw: []byte(`{"type":"member_management","action":"member_suspended","timestamp":1,"user":{"uuid":"u-1","email":"ann@example.com"},"initiator":{"uuid":"a-1","email":"boss@example.com"},"metadata":[]}`)}, true,
			map[string]string{"class_uid": "3001", "activity_id": "5", "user.uid": "u-1", "actor.user.uid": "a-1"},
			map[string]string{"event.category": `["iam"]`, "event.type": `["user","change"]`, "user.id": "a-1", "user.target.id": "u-1"}},
		{"an unknown action is a Base Event keeping the record", normalize.Event{Source: "nordpass", ID: "id-3", Type: "app_access", Action: "teleported",
			Raw: []byte(`{"type":"app_access","action":"teleported","user":{"uuid":"u-1"}}`)}, false,
			map[string]string{"class_uid": "0", "category_uid": "0", "activity_id": "99", "type_uid": "99", "user": "", "unmapped.action": "teleported", "metadata.event_code": "app_access/teleported"},
			map[string]string{"event.category": "", "event.kind": "event", "event.outcome": "unknown", "event.action": "teleported", "nordpass.action": "teleported"}},
		{"a record without the user its class requires is a Base Event", normalize.Event{Source: "oloid", ID: "id-4", Type: "LOGIN",
			Raw: []byte(`{"id":"id-4","activityType":"LOGIN","details":{}}`)}, false,
			map[string]string{"class_uid": "0", "unmapped.activityType": "LOGIN"},
			map[string]string{"event.category": "", "user.id": ""}},
		{"an action without a row of its own falls to its type's row", normalize.Event{Source: "nordpass_msp", ID: "id-5", Type: "billing", Action: "invoice_paid",
			Raw: []byte(`{"type":"billing","action":"invoice_paid","user":{"uuid":"m-1","email":"m@x.example"},"initiator":{"uuid":"m-1","email":"m@x.example"},"ip_address":"203.0.113.9"}`)}, true,
			map[string]string{"class_uid": "3004", "activity_id": "3", "entity.name": "billing details", "src_endpoint.ip": "203.0.113.9", "actor.user.uid": "m-1"},
			map[string]string{"event.category": `["configuration"]`, "source.ip": "203.0.113.9", "user.target": ""}},
		{"a failed login reads its status from the record", normalize.Event{Source: "qualtrics", ID: "id-6", Type: "login",
			Raw: []byte(`{"id":"id-6","descriptor":{"userId":"UR_1","username":"ann@example.com","isSuccessful":false,"product":"CX","ipAddress":"198.51.100.7"}}`)}, true,
			map[string]string{"class_uid": "3002", "status_id": "2", "status": "Failure", "service.name": "CX", "user.name": "ann@example.com"},
			map[string]string{"event.outcome": "failure", "user.name": "ann@example.com"}},
		{"a physical access names the door as destination", normalize.Event{Source: "oloid", ID: "id-7", Type: "ACCESS_DENIED",
			Raw: []byte(`{"id":"id-7","activityType":"ACCESS_DENIED","details":{"userId":"user-1","userName":"Ann Adams","endpointId":"endpoint-3","endpointName":"Server Room"}}`)}, true,
			map[string]string{"class_uid": "3002", "status_id": "2", "dst_endpoint.name": "Server Room", "dst_endpoint.uid": "endpoint-3"},
			map[string]string{"event.outcome": "failure"}},
		{"an unknown source is a Base Event", normalize.Event{Source: "okta", ID: "id-8", Type: "x", Raw: []byte(`{"a":1}`)}, false,
			map[string]string{"class_uid": "0", "metadata.product.vendor_name": "Unknown", "unmapped.a": "1"},
			map[string]string{"okta.a": "1"}},
		{"strings are escaped", normalize.Event{Source: "oloid", ID: "id-\"9\"\n", Type: "LOGIN",
			Raw: []byte(`{"details":{"userId":"u\"1","userName":"Ann \\ Adams\u2028"}}`)}, true,
			map[string]string{"metadata.uid": "id-\"9\"\n", "user.uid": `u"1`, "user.name": "Ann \\ Adams\u2028"},
			map[string]string{"event.id": "id-\"9\"\n", "user.id": `u"1`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.e.Time = t1
			for _, f := range []struct {
				format normalize.Format
				want   map[string]string
				check  func(map[string]any) []string
			}{
				{normalize.OCSF, tc.ocsf, ocsf.validate},
				{normalize.ECS, tc.ecs, func(d map[string]any) []string { return ecs.validate(d, tc.e.Source) }},
			} {
				out, mapped := normalize.Append([]byte("prefix"), f.format, &tc.e)
				if mapped != tc.mapped {
					t.Errorf("%s: mapped %v, want %v", f.format, mapped, tc.mapped)
				}
				if !bytes.HasPrefix(out, []byte("prefix")) {
					t.Fatalf("%s: did not append", f.format)
				}
				doc := decode(t, out[len("prefix"):])
				for path, want := range f.want {
					if got := at(doc, path); got != want {
						t.Errorf("%s %s = %q, want %q", f.format, path, got, want)
					}
				}
				for _, msg := range f.check(doc) {
					t.Errorf("%s: %s", f.format, msg)
				}
			}
		})
	}
}

func TestRawIsTheRecordUntouched(t *testing.T) {
	e := normalize.Event{Source: "nordpass", Type: "app_access", Action: "app_login", Raw: []byte(` {"x": 1} `)}
	out, mapped := normalize.Append(nil, normalize.Raw, &e)
	if string(out) != string(e.Raw) || !mapped {
		t.Errorf("raw gave %s (mapped %v)", out, mapped)
	}
}

// The checkers find what is wrong, so that their silence on the
// simulated histories means something.
func TestCheckersRejectInvalidEvents(t *testing.T) {
	ocsf, ecs := loadOCSF(t), loadECS(t)
	const login = `"class_uid":3002,"category_uid":3,"activity_id":1,"activity_name":"Logon","type_uid":300201,"severity_id":1,"time":1,"metadata":{"version":"1.3.0","product":{"vendor_name":"V"}}`
	for _, tc := range []struct{ name, doc, want string }{
		{"a required attribute missing", `{` + login + `,"service":{"name":"s"}}`, "user is required"},
		{"an attribute the class lacks", `{` + login + `,"user":{"uid":"u"},"service":{"name":"s"},"group":{"name":"g"}}`, "group is not an attribute of authentication"},
		{"an object's constraint", `{` + login + `,"user":{"email_addr":"a@b.c"},"service":{"name":"s"}}`, "at_least_one"},
		{"a class constraint", `{` + login + `,"user":{"uid":"u"}}`, "authentication at_least_one"},
		{"an activity the class lacks", `{"class_uid":3002,"category_uid":3,"activity_id":7,"type_uid":300207,"severity_id":1,"time":1,"metadata":{"version":"1.3.0","product":{"vendor_name":"V"}},"user":{"uid":"u"},"service":{"name":"s"}}`, "activity_id 7 is not one of"},
		{"a wrong type_uid", `{"class_uid":3002,"category_uid":3,"activity_id":1,"activity_name":"Logon","type_uid":300202,"severity_id":1,"time":1,"metadata":{"version":"1.3.0","product":{"vendor_name":"V"}},"user":{"uid":"u"},"service":{"name":"s"}}`, "type_uid"},
		{"a wrong type", `{` + login + `,"user":{"uid":"u"},"service":{"name":"s"},"src_endpoint":{"ip":"not-an-ip"}}`, "not an IP address"},
	} {
		t.Run("ocsf/"+tc.name, func(t *testing.T) {
			errs := strings.Join(ocsf.validate(decode(t, []byte(tc.doc))), "\n")
			if !strings.Contains(errs, tc.want) {
				t.Errorf("errors %q lack %q", errs, tc.want)
			}
		})
	}
	const ecsBase = `"@timestamp":"2026-03-01T10:30:00Z","ecs":{"version":"9.3.0"}`
	for _, tc := range []struct{ name, doc, want string }{
		{"a field ECS lacks", `{` + ecsBase + `,"event":{"kind":"event"},"user":{"mail":"x"}}`, "user.mail is not an ECS field"},
		{"a value not allowed", `{` + ecsBase + `,"event":{"kind":"happening"}}`, `"happening" is not an allowed value`},
		{"a type the category does not expect", `{` + ecsBase + `,"event":{"kind":"event","category":["authentication"],"type":["creation"]}}`, "not expected"},
		{"a scalar where ECS wants an array", `{` + ecsBase + `,"event":{"kind":"event","category":"iam"}}`, "must be an array"},
		{"kind missing", `{` + ecsBase + `}`, "event.kind is missing"},
	} {
		t.Run("ecs/"+tc.name, func(t *testing.T) {
			errs := strings.Join(ecs.validate(decode(t, []byte(tc.doc)), "vendor"), "\n")
			if !strings.Contains(errs, tc.want) {
				t.Errorf("errors %q lack %q", errs, tc.want)
			}
		})
	}
}
