package normalize

// Source says how to read one vendor's records: where its fields are (gjson
// paths into the record) and what each type/action means. Adding an action
// is adding a Row.
type Source struct {
	Name            string // the core's source name
	Vendor, Product string // OCSF metadata.product
	// User is whom the record is about; Initiator who acted for them (an
	// admin), when the vendor says; Target whom an action was done to,
	// where the vendor names them apart from User.
	User, Initiator, Target Person
	IP                      string // the client's address
	Org, OrgName            string // the tenant
	Endpoint, EndpointName  string // where an access took place (a door, a kiosk)
	Service                 string // what a login was to (default: Product)
	OK                      string // a boolean: did it succeed (rows with Status FromOK)
	Rows                    []Row

	index map[string]int // Type NUL Action → row
}

// Person names a user's fields.
type Person struct{ UID, Name, Email string }

// Row maps one vendor type and action (Action "" maps every action of the
// type that has no row of its own).
type Row struct {
	Type, Action string
	Class        Class
	Activity     int
	Status       Status
	// Entity Management: what is managed, and where its id and name are.
	Entity                string
	EntityUID, EntityName string
}

// The NordPass Enterprise records: a member (user), sometimes the admin
// who acted (initiator), and metadata by action.
var nordpass = Source{
	Name: "nordpass", Vendor: "Nord Security", Product: "NordPass Enterprise",
	User:      Person{UID: "user.uuid", Email: "user.email"},
	Initiator: Person{UID: "initiator.uuid", Email: "initiator.email"},
	Org:       "organization_uuid",
	Rows: []Row{
		{Type: "app_access", Action: "app_login", Class: Authentication, Activity: Logon, Status: Success},
		{Type: "app_access", Action: "app_logout", Class: Authentication, Activity: Logoff, Status: Success},
		{Type: "app_access", Action: "admin_panel_login", Class: Authentication, Activity: Logon, Status: Success},
		{Type: "business_account", Action: "login_failed", Class: Authentication, Activity: Logon, Status: Failure},
		{Type: "business_account", Action: "mfa_enabled", Class: AccountChange, Activity: MFAFactorEnable, Status: Success},
		{Type: "business_account", Action: "mfa_disabled", Class: AccountChange, Activity: MFAFactorDisable, Status: Success},
		{Type: "business_account", Action: "master_password_changed", Class: AccountChange, Activity: PasswordChange, Status: Success},
		{Type: "member_management", Action: "member_role_changed", Class: GroupManagement, Activity: AssignPrivileges, Status: Success},
		{Type: "member_management", Action: "member_suspended", Class: AccountChange, Activity: DisableAccount, Status: Success},
		{Type: "member_management", Action: "member_unsuspended", Class: AccountChange, Activity: EnableAccount, Status: Success},
		{Type: "member_management", Action: "member_deleted", Class: AccountChange, Activity: DeleteAccount, Status: Success},
		{Type: "invites", Action: "invite_sent", Class: GroupManagement, Activity: Other, Status: Success},
		{Type: "invites", Action: "invite_accepted", Class: GroupManagement, Activity: AddUser, Status: Success},
		{Type: "invites", Action: "invite_declined", Class: GroupManagement, Activity: Other, Status: Success},
		item("item_access", "item_used", Read),
		item("item_access", "item_created", Create),
		item("item_access", "item_updated", Update),
		item("item_sharing", "item_shared", Update),
		item("item_sharing", "item_sharing_revoked", Update),
		item("item_sharing", "item_sharing_rights_changed", Update),
		item("item_sharing", "item_owner_changed", Update),
		item("item_deletion", "item_deleted", Delete),
		item("item_deletion", "item_restored", Other),
		{Type: "organization_settings", Action: "policy_enabled", Class: EntityManagement, Activity: Enable, Status: Success, Entity: "policy", EntityName: "metadata.policy"},
		{Type: "organization_settings", Action: "policy_disabled", Class: EntityManagement, Activity: Disable, Status: Success, Entity: "policy", EntityName: "metadata.policy"},
		{Type: "integrations", Action: "integration_connected", Class: EntityManagement, Activity: Create, Status: Success, Entity: "integration", EntityName: "metadata.integration"},
		{Type: "integrations", Action: "integration_synced", Class: EntityManagement, Activity: Update, Status: Success, Entity: "integration", EntityName: "metadata.integration"},
	},
}

// item is a row about a vault item.
func item(typ, action string, activity int) Row {
	return Row{Type: typ, Action: action, Class: EntityManagement, Activity: activity, Status: Success,
		Entity: "vault item", EntityUID: "metadata.item_uuid", EntityName: "metadata.item_type"}
}

// The NordPass MSP Activity Log: categories as types; user and initiator
// always given (the same member when they acted for themselves).
var nordpassMSP = Source{
	Name: "nordpass_msp", Vendor: "Nord Security", Product: "NordPass MSP",
	User:      Person{UID: "user.uuid", Email: "user.email"},
	Initiator: Person{UID: "initiator.uuid", Email: "initiator.email"},
	IP:        "ip_address",
	Org:       "organization_uuid", OrgName: "metadata.organization_name",
	Rows: []Row{
		{Type: "msp_access", Action: "login", Class: Authentication, Activity: Logon, Status: Success},
		{Type: "msp_access", Action: "login_failed", Class: Authentication, Activity: Logon, Status: Failure},
		{Type: "msp_access", Action: "password_changed", Class: AccountChange, Activity: PasswordChange, Status: Success},
		{Type: "msp_access", Action: "2fa_enabled", Class: AccountChange, Activity: MFAFactorEnable, Status: Success},
		{Type: "msp_access", Action: "2fa_disabled", Class: AccountChange, Activity: MFAFactorDisable, Status: Success},
		{Type: "msp_access", Action: "account_created", Class: AccountChange, Activity: CreateAccount, Status: Success},
		{Type: "msp_user_management", Action: "member_invited", Class: GroupManagement, Activity: Other, Status: Success},
		{Type: "msp_user_management", Action: "member_role_changed", Class: GroupManagement, Activity: AssignPrivileges, Status: Success},
		{Type: "msp_user_management", Action: "member_suspended", Class: AccountChange, Activity: DisableAccount, Status: Success},
		{Type: "msp_user_management", Action: "ownership_transferred", Class: GroupManagement, Activity: AssignPrivileges, Status: Success},
		org("organization_accessed", Read),
		org("organization_created", Create),
		org("organization_deployed", Update),
		org("organization_renamed", Update),
		org("organization_suspended", Suspend),
		org("organization_terminated", Delete),
		{Type: "integrations", Action: "integration_set_up", Class: EntityManagement, Activity: Create, Status: Success, Entity: "integration"},
		{Type: "integrations", Action: "integration_synced", Class: EntityManagement, Activity: Update, Status: Success, Entity: "integration"},
		{Type: "integrations", Action: "integration_edited", Class: EntityManagement, Activity: Update, Status: Success, Entity: "integration"},
		{Type: "integrations", Action: "integration_disconnected", Class: EntityManagement, Activity: Delete, Status: Success, Entity: "integration"},
		{Type: "billing", Action: "credit_card_added", Class: EntityManagement, Activity: Create, Status: Success, Entity: "billing details"},
		{Type: "billing", Class: EntityManagement, Activity: Update, Status: Success, Entity: "billing details"},
		{Type: "settings", Class: EntityManagement, Activity: Update, Status: Success, Entity: "MSP settings"},
	},
}

// org is a row about a managed organization.
func org(action string, activity int) Row {
	return Row{Type: "organization_management", Action: action, Class: EntityManagement, Activity: activity, Status: Success,
		Entity: "organization", EntityUID: "organization_uuid", EntityName: "metadata.organization_name"}
}

// OLOID List Activity Logs: the activity type is the record's type; the
// details name the user, the address or the endpoint (door, kiosk).
var oloid = Source{
	Name: "oloid", Vendor: "OLOID", Product: "OLOID",
	User:     Person{UID: "details.userId", Name: "details.userName"},
	IP:       "details.ipAddress",
	Endpoint: "details.endpointId", EndpointName: "details.endpointName",
	Rows: []Row{
		{Type: "LOGIN", Class: Authentication, Activity: Logon, Status: Success},
		{Type: "LOGIN_FAILED", Class: Authentication, Activity: Logon, Status: Failure},
		{Type: "LOGOUT", Class: Authentication, Activity: Logoff, Status: Success},
		{Type: "ACCESS_GRANTED", Class: Authentication, Activity: Logon, Status: Success},
		{Type: "ACCESS_DENIED", Class: Authentication, Activity: Logon, Status: Failure},
		{Type: "CREDENTIAL_ENROLLED", Class: AccountChange, Activity: MFAFactorEnable, Status: Success},
		{Type: "USER_CREATED", Class: AccountChange, Activity: CreateAccount, Status: Success},
		{Type: "USER_UPDATED", Class: AccountChange, Activity: Other, Status: Success},
		{Type: "USER_DELETED", Class: AccountChange, Activity: DeleteAccount, Status: Success},
		{Type: "DEVICE_REGISTERED", Class: EntityManagement, Activity: Create, Status: Success,
			Entity: "device", EntityUID: "details.endpointId", EntityName: "details.endpointName"},
	},
}

// Qualtrics List Events: the activity type is the stream's; the descriptor
// names the user who acted and, for changes, the one changed.
var qualtrics = Source{
	Name: "qualtrics", Vendor: "Qualtrics", Product: "Qualtrics XM",
	User:    Person{UID: "descriptor.userId", Name: "descriptor.username"},
	Target:  Person{UID: "descriptor.targetUserId"},
	IP:      "descriptor.ipAddress",
	Org:     "descriptor.brandId",
	OK:      "descriptor.isSuccessful",
	Service: "descriptor.product",
	Rows: []Row{
		{Type: "login", Class: Authentication, Activity: Logon, Status: FromOK},
		{Type: "user_account_change", Class: AccountChange, Activity: Other, Status: Success},
		{Type: "permission_change", Class: AccountChange, Activity: Other, Status: Success},
		{Type: "api_token_change", Class: AccountChange, Activity: Other, Status: Success},
		{Type: "survey_access", Class: EntityManagement, Activity: Read, Status: Success, Entity: "survey"},
		{Type: "response_export", Class: EntityManagement, Activity: Read, Status: Success, Entity: "survey responses"},
		{Type: "data_deletion", Class: EntityManagement, Activity: Delete, Status: Success, Entity: "survey data"},
	},
}

// Sources are the mappings, in the order the docs list them.
var Sources = []*Source{&nordpass, &nordpassMSP, &oloid, &qualtrics}

var sources = func() map[string]*Source {
	m := map[string]*Source{}
	for _, s := range Sources {
		s.index = map[string]int{}
		for i, r := range s.Rows {
			s.index[r.Type+"\x00"+r.Action] = i
		}
		m[s.Name] = s
	}
	return m
}()
