package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// sink stands in for the CRM (CloudEvents commands on /crm) and the
// notification hook (/notify/<name>). It counts every request by its
// Idempotency-Key (ce-id when absent), so a lost or a duplicated side effect
// shows, and learns which event each run served from the notification text
// (the VIP sample's message holds the contact's last name, which the
// benchmark sets to the event id).
type sink struct {
	srv *http.Server
	url string

	mu       sync.Mutex
	requests int64
	keys     map[string]int      // Idempotency-Key → times seen
	byRun    map[string][]string // run UID → steps seen (first time each)
	events   map[string][]string // event id → run UIDs whose notification named it
	lastNew  time.Time           // when the newest distinct key arrived
	noKey    int64               // requests without any key
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the sink: %w", err)
	}
	s := &sink{url: "http://" + ln.Addr().String(), keys: map[string]int{}, byRun: map[string][]string{}, events: map[string][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/crm", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		s.record(r, "")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("/notify/", func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Text string `json:"text"`
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m)
		// "VIP Bench <event id> started a conversation on chat."
		ev := ""
		if f := strings.Fields(m.Text); len(f) > 2 && f[0] == "VIP" {
			ev = f[2]
		}
		s.record(r, ev)
		w.WriteHeader(http.StatusOK)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *sink) record(r *http.Request, eventID string) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		key = r.Header.Get("ce-id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if key == "" {
		s.noKey++
		return
	}
	s.keys[key]++
	if s.keys[key] > 1 {
		return
	}
	s.lastNew = time.Now()
	uid, step, _ := strings.Cut(key, "/")
	s.byRun[uid] = append(s.byRun[uid], step)
	if eventID != "" {
		s.events[eventID] = append(s.events[eventID], uid)
	}
}

// distinct returns how many distinct keys arrived and when the newest did.
func (s *sink) distinct() (int, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys), s.lastNew
}

// sideEffects are what one VIP event must cause at the sink.
const sideEffects = 3

// check returns, for the events ids, how many lack a side effect (lost),
// how many enrolled more than one run (duplicate runs), and how many keys
// of their runs arrived more than once (duplicate deliveries).
func (s *sink) check(ids []string) (lost, dupRuns, dupKeys int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		uids := s.events[id]
		if len(uids) == 0 {
			lost++
			continue
		}
		if len(uids) > 1 {
			dupRuns++
		}
		if len(s.byRun[uids[0]]) < sideEffects {
			lost++
		}
		for _, uid := range uids {
			for _, step := range s.byRun[uid] {
				if s.keys[uid+"/"+step] > 1 {
					dupKeys++
				}
			}
		}
	}
	return lost, dupRuns, dupKeys
}

func (s *sink) close() { _ = s.srv.Close() }
