package normalize

import "strconv"

// Class is an OCSF event class by its class_uid.
type Class int

// The classes the mappings use (OCSF 1.3.0).
const (
	Base             Class = 0
	AccountChange    Class = 3001
	Authentication   Class = 3002
	EntityManagement Class = 3004
	GroupManagement  Class = 3006
)

// Status is OCSF's status_id.
type Status int

// The statuses; FromOK reads it from the source's OK field.
const (
	Unknown Status = 0
	Success Status = 1
	Failure Status = 2
	FromOK  Status = -1
)

func (s Status) String() string {
	switch s {
	case Success:
		return "Success"
	case Failure:
		return "Failure"
	}
	return "Unknown"
}

func (s Status) outcome() string {
	switch s {
	case Success:
		return "success"
	case Failure:
		return "failure"
	}
	return "unknown"
}

// The activities of the classes, by activity_id (0 Unknown and 99 Other
// are every class's).
const (
	Other = 99

	Logon  = 1 // Authentication
	Logoff = 2

	CreateAccount    = 1 // Account Change
	EnableAccount    = 2
	PasswordChange   = 3
	DisableAccount   = 5
	DeleteAccount    = 6
	MFAFactorEnable  = 10
	MFAFactorDisable = 11

	Create  = 1 // Entity Management
	Read    = 2
	Update  = 3
	Delete  = 4
	Enable  = 8
	Disable = 9
	Suspend = 12
	Resume  = 13

	AssignPrivileges = 1 // Group Management
	AddUser          = 3
	RemoveUser       = 4
)

type classInfo struct {
	name, category string
	activities     map[int]string
}

var classes = map[Class]classInfo{
	Base: {"Base Event", "Uncategorized", nil},
	AccountChange: {"Account Change", "Identity & Access Management", map[int]string{
		1: "Create", 2: "Enable", 3: "Password Change", 4: "Password Reset", 5: "Disable", 6: "Delete",
		7: "Attach Policy", 8: "Detach Policy", 9: "Lock", 10: "MFA Factor Enable", 11: "MFA Factor Disable"}},
	Authentication: {"Authentication", "Identity & Access Management", map[int]string{
		1: "Logon", 2: "Logoff", 3: "Authentication Ticket", 4: "Service Ticket Request", 5: "Service Ticket Renew", 6: "Preauth"}},
	EntityManagement: {"Entity Management", "Identity & Access Management", map[int]string{
		1: "Create", 2: "Read", 3: "Update", 4: "Delete", 5: "Move", 6: "Enroll", 7: "Unenroll",
		8: "Enable", 9: "Disable", 10: "Activate", 11: "Deactivate", 12: "Suspend", 13: "Resume"}},
	GroupManagement: {"Group Management", "Identity & Access Management", map[int]string{
		1: "Assign Privileges", 2: "Revoke Privileges", 3: "Add User", 4: "Remove User", 5: "Delete", 6: "Create"}},
}

func (c classInfo) activity(id int) string {
	switch id {
	case 0:
		return "Unknown"
	case Other:
		return "Other"
	}
	if n, ok := c.activities[id]; ok {
		return n
	}
	return strconv.Itoa(id)
}

// ecs is the ECS event.category and event.type of the row's class and
// activity.
func (r *Row) ecs() (category string, types []string) {
	switch r.Class {
	case Authentication:
		if r.Activity == Logoff {
			return "authentication", ecsEnd
		}
		return "authentication", ecsStart
	case AccountChange:
		switch r.Activity {
		case CreateAccount:
			return "iam", ecsUserCreation
		case DeleteAccount:
			return "iam", ecsUserDeletion
		}
		return "iam", ecsUserChange
	case GroupManagement:
		return "iam", ecsGroupChange
	}
	switch r.Activity {
	case Create:
		return "configuration", ecsCreation
	case Read:
		return "configuration", ecsAccess
	case Delete:
		return "configuration", ecsDeletion
	}
	return "configuration", ecsChange
}

var (
	ecsStart, ecsEnd                                = []string{"start"}, []string{"end"}
	ecsUserCreation, ecsUserDeletion, ecsUserChange = []string{"user", "creation"}, []string{"user", "deletion"}, []string{"user", "change"}
	ecsGroupChange                                  = []string{"group", "change"}
	ecsCreation, ecsAccess                          = []string{"creation"}, []string{"access"}
	ecsDeletion, ecsChange                          = []string{"deletion"}, []string{"change"}
)
