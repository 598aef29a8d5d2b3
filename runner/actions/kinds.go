package actions

// commandTypes maps each contact or CRM action to the CloudEvents type of the
// command it sends to the CRM sink.
var commandTypes = map[Kind]string{
	KindUpdateContact:     CommandContactUpdate,
	KindAddTags:           CommandContactTagsAdd,
	KindRemoveTags:        CommandContactTagsRemove,
	KindAddToSegment:      CommandContactSegmentAdd,
	KindRemoveFromSegment: CommandContactSegmentRemove,
	KindAssignContact:     CommandContactAssign,
	KindCreateTask:        CommandTaskCreate,
	KindCreateLead:        CommandLeadCreate,
	KindUpdateLeadStatus:  CommandLeadStatusUpdate,
	KindCreateTicket:      CommandTicketCreate,
	KindAssignTicket:      CommandTicketAssign,
}

// CommandType returns the CloudEvents type of the command a contact or CRM
// action sends (e.g. KindAddTags → "io.crmflow.contact.tags.add"), and false
// for kinds that are not commands.
func CommandType(k Kind) (string, bool) {
	t, ok := commandTypes[k]
	return t, ok
}

// IsCommand reports whether k is delivered as a CloudEvents command to the CRM sink.
func IsCommand(k Kind) bool {
	_, ok := commandTypes[k]
	return ok
}

// IsHTTPCall reports whether k is performed as a plain HTTP call (HTTPCall payload):
// callWebhook, updateExternalCRM and triggerZapier.
func IsHTTPCall(k Kind) bool {
	return k == KindCallWebhook || k == KindUpdateExternalCRM || k == KindTriggerZapier
}

// secretURL reports whether the whole URL of k's target is a credential
// (incoming-webhook and catch-hook URLs), so messages show only its host.
func secretURL(k Kind) bool {
	return k == KindNotify || k == KindTriggerZapier
}
