package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a child process the benchmark started: its own process group
// (so a terminal's Ctrl-C reaches the benchmark, which stops children in
// order), its output in a log file, and a parent-death signal so nothing
// outlives a killed benchmark.
type process struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	err    error
}

// startProcess starts bin with args and env extra, logging to dir/<name>.log.
func startProcess(dir, name, bin string, args []string, env []string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.exited)
	}()
	return p, nil
}

// pid is the process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// running reports whether the process has not exited.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the process group, waits up to grace, then kills it.
func (p *process) stop(grace time.Duration) {
	if p == nil || !p.running() {
		return
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.exited
	}
}

// tail returns the last n lines of the process log.
func (p *process) tail(n int) string {
	raw, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logLinesMatching counts the lines of the process log holding substr.
func (p *process) logLinesMatching(substr string) int {
	raw, err := os.ReadFile(p.log)
	if err != nil {
		return 0
	}
	return bytes.Count(raw, []byte(substr))
}

// cpuTicks returns utime+stime of pid from /proc/<pid>/stat, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields start after ")".
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed utime/stime")
	}
	return u + st, nil
}

// clockTicksPerSecond is USER_HZ, 100 on every Linux this runs on.
const clockTicksPerSecond = 100

// rssBytes returns VmRSS of pid from /proc/<pid>/status.
func rssBytes(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuOf sums the CPU ticks of pids, in milliseconds.
func cpuOf(pids []int) time.Duration {
	var total int64
	for _, pid := range pids {
		t, err := cpuTicks(pid)
		if err == nil {
			total += t
		}
	}
	return time.Duration(total) * time.Second / clockTicksPerSecond
}

// rssSampler samples the summed VmRSS of a set of processes every interval
// and keeps the peak; the peak of each process alone is kept too.
type rssSampler struct {
	mu      sync.Mutex
	peak    int64
	peakOne map[int]int64
	stopc   chan struct{}
	done    chan struct{}
}

func startRSSSampler(interval time.Duration, pids func() []int) *rssSampler {
	s := &rssSampler{peakOne: map[int]int64{}, stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			var sum int64
			s.mu.Lock()
			for _, pid := range pids() {
				if r, err := rssBytes(pid); err == nil {
					sum += r
					if r > s.peakOne[pid] {
						s.peakOne[pid] = r
					}
				}
			}
			if sum > s.peak {
				s.peak = sum
			}
			s.mu.Unlock()
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends sampling and returns the peak of the sum and of each pid.
func (s *rssSampler) stop() (int64, map[int]int64) {
	close(s.stopc)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.peakOne
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
