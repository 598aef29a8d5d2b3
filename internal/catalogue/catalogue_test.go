package catalogue

import "testing"

func TestSuggest(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"ticket.create", "ticket.created", true},
		{"Ticket.Created", "ticket.created", true},
		{"lead.creatd", "lead.created", true},
		{"message.recieved", "message.received", true},
		{"ticket.created", "", false},          // in the catalogue
		{"ticket.created.typo", "", false},     // far: a custom type, maybe
		{"io.example.invoice.paid", "", false}, // custom
		{"", "", false},
	} {
		got, ok := Suggest(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Suggest(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
