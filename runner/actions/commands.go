package actions

import "time"

// Constructors of the contact and CRM commands, one per command type, so the
// data each command carries is defined in one place (docs/commands.md shows
// it). They set Type, Subject and Data; the caller adds SinkURL and Token.
// Optional values that are empty are left out of the data.

// UpdateContactCommand sets contact fields: io.crmflow.contact.update,
// data {"contactId", "fields"}.
func UpdateContactCommand(contactID string, fields map[string]any) *Command {
	return &Command{Type: CommandContactUpdate, Subject: contactID,
		Data: map[string]any{"contactId": contactID, "fields": fields}}
}

// TagsCommand adds (add true: io.crmflow.contact.tags.add) or removes
// (io.crmflow.contact.tags.remove) tags, data {"contactId", "tags"}.
func TagsCommand(add bool, contactID string, tags []string) *Command {
	typ := CommandContactTagsRemove
	if add {
		typ = CommandContactTagsAdd
	}
	return &Command{Type: typ, Subject: contactID,
		Data: map[string]any{"contactId": contactID, "tags": tags}}
}

// SegmentCommand adds a contact to (add true: io.crmflow.contact.segment.add)
// or removes it from (io.crmflow.contact.segment.remove) a segment, data
// {"contactId", "segment"}.
func SegmentCommand(add bool, contactID, segment string) *Command {
	typ := CommandContactSegmentRemove
	if add {
		typ = CommandContactSegmentAdd
	}
	return &Command{Type: typ, Subject: contactID,
		Data: map[string]any{"contactId": contactID, "segment": segment}}
}

// AssignContactCommand gives a contact an owner: io.crmflow.contact.assign,
// data {"contactId", "user"?, "team"?}.
func AssignContactCommand(contactID, user, team string) *Command {
	data := map[string]any{"contactId": contactID}
	putIf(data, "user", user)
	putIf(data, "team", team)
	return &Command{Type: CommandContactAssign, Subject: contactID, Data: data}
}

// CreateTaskCommand creates a to-do: io.crmflow.task.create, data
// {"contactId", "title", "description"?, "assignee"?, "due"? (RFC 3339, UTC)}.
func CreateTaskCommand(contactID, title, description, assignee string, due *time.Time) *Command {
	data := map[string]any{"contactId": contactID, "title": title}
	putIf(data, "description", description)
	putIf(data, "assignee", assignee)
	if due != nil {
		data["due"] = due.UTC().Format(time.RFC3339)
	}
	return &Command{Type: CommandTaskCreate, Subject: contactID, Data: data}
}

// CreateLeadCommand creates a lead: io.crmflow.lead.create, data
// {"contactId", "source"?, "status"?, "fields"?}.
func CreateLeadCommand(contactID, source, status string, fields map[string]any) *Command {
	data := map[string]any{"contactId": contactID}
	putIf(data, "source", source)
	putIf(data, "status", status)
	if len(fields) > 0 {
		data["fields"] = fields
	}
	return &Command{Type: CommandLeadCreate, Subject: contactID, Data: data}
}

// UpdateLeadStatusCommand moves a lead: io.crmflow.lead.status.update, subject
// the lead id, data {"leadId", "status"}.
func UpdateLeadStatusCommand(leadID, status string) *Command {
	return &Command{Type: CommandLeadStatusUpdate, Subject: leadID,
		Data: map[string]any{"leadId": leadID, "status": status}}
}

// CreateTicketCommand opens a ticket: io.crmflow.ticket.create, data
// {"contactId", "title", "description"?, "priority" (default "Normal"), "team"?}.
func CreateTicketCommand(contactID, title, description, priority, team string) *Command {
	if priority == "" {
		priority = "Normal"
	}
	data := map[string]any{"contactId": contactID, "title": title, "priority": priority}
	putIf(data, "description", description)
	putIf(data, "team", team)
	return &Command{Type: CommandTicketCreate, Subject: contactID, Data: data}
}

// AssignTicketCommand gives a ticket an owner: io.crmflow.ticket.assign,
// subject the ticket id, data {"ticketId", "user"?, "team"?}.
func AssignTicketCommand(ticketID, user, team string) *Command {
	data := map[string]any{"ticketId": ticketID}
	putIf(data, "user", user)
	putIf(data, "team", team)
	return &Command{Type: CommandTicketAssign, Subject: ticketID, Data: data}
}

func putIf(m map[string]any, key, value string) {
	if value != "" {
		m[key] = value
	}
}
