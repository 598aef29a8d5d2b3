package archiver

import (
	"context"
	"fmt"
	"time"

	"github.com/crmflow/crmflow/internal/history"
)

// batcher group-commits the records of concurrent reconciles: the first
// record waiting starts a batch, every record that arrived while the previous
// batch was being written joins it, and each caller gets its batch's result.
type batcher struct {
	store   history.Store
	max     int
	timeout time.Duration
	reqs    chan pendingWrite
}

type pendingWrite struct {
	run  history.Run
	done chan error
}

func newBatcher(store history.Store, max int, timeout time.Duration) *batcher {
	return &batcher{store: store, max: max, timeout: timeout, reqs: make(chan pendingWrite, max)}
}

// Start writes batches until ctx ends; it is a leader-only manager Runnable.
func (b *batcher) Start(ctx context.Context) error {
	for {
		var batch []pendingWrite
		select {
		case <-ctx.Done():
			return nil
		case p := <-b.reqs:
			batch = append(batch, p)
		}
	drain:
		for len(batch) < b.max {
			select {
			case p := <-b.reqs:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		runs := make([]history.Run, len(batch))
		for i := range batch {
			p := &batch[i]
			runs[i] = p.run
		}
		wctx, cancel := context.WithTimeout(ctx, b.timeout)
		err := b.store.Archive(wctx, runs)
		cancel()
		for i := range batch {
			p := &batch[i]
			p.done <- err
		}
	}
}

// NeedLeaderElection makes the batcher run on the leader only, with the archiver.
func (b *batcher) NeedLeaderElection() bool { return true }

// write hands run to the current batch and waits for it to be committed.
func (b *batcher) write(ctx context.Context, run *history.Run) error {
	p := pendingWrite{run: *run, done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(ctx, 2*b.timeout)
	defer cancel()
	select {
	case b.reqs <- p:
	case <-ctx.Done():
		return fmt.Errorf("queue run %s for the history store: %w", run.UID, ctx.Err())
	}
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("write run %s to the history store: %w", run.UID, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("write run %s to the history store: %w", run.UID, ctx.Err())
	}
}
