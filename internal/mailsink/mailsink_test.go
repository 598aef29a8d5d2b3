package mailsink

import (
	"net"
	"net/smtp"
	"reflect"
	"testing"
)

func TestDeliversEachMessageWithSubjectAndBody(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Message, 2)
	srv := Serve(l, func(m Message) { got <- m })
	defer func() { _ = srv.Close() }()

	body := "Subject: Welcome, Ann\r\nFrom: sales@example.com\r\n\r\nHi Ann,\r\nthanks.\r\n"
	if err := smtp.SendMail(l.Addr().String(), nil, "sales@example.com", []string{"ann@example.com", "bo@example.com"}, []byte(body)); err != nil {
		t.Fatalf("send: %v", err)
	}
	m := <-got
	want := Message{From: "sales@example.com", To: []string{"ann@example.com", "bo@example.com"}, Subject: "Welcome, Ann", Body: []string{"Hi Ann,", "thanks."}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %+v, want %+v", m, want)
	}
}

func TestRefusesAuthentication(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Serve(l, func(Message) {})
	defer func() { _ = srv.Close() }()
	auth := smtp.PlainAuth("", "user", "secret", "127.0.0.1")
	if err := smtp.SendMail(l.Addr().String(), auth, "a@example.com", []string{"b@example.com"}, []byte("\r\nx\r\n")); err == nil {
		t.Fatal("a message sent with credentials was accepted; want a refusal")
	}
}
