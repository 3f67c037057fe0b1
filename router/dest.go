package router

import (
	"context"
	"time"

	"github.com/hexnet/hexnet/router/delivery"
	"github.com/hexnet/hexnet/router/routes"
)

// destWorker owns one destination: a bounded queue, a sender and back-off,
// so that a failing LNS never blocks the pipeline or other destinations.
type destWorker struct {
	dest    routes.Destination
	q       chan queued
	started bool
	sender  delivery.Sender // set by the worker goroutine under Router.mu
}

// queued is an uplink waiting for its destination, with the acknowledgement
// of the message it came in, released once the send is done or given up.
type queued struct {
	u   *delivery.Uplink
	ack *ackRef
}

// enqueue hands u to d's worker, creating it on first use; a full queue
// drops. The worker releases a hold on ack when done with u.
func (r *Router) enqueue(d routes.Destination, u *delivery.Uplink, ack *ackRef) {
	key := d.Key()
	r.mu.Lock()
	w := r.dests[key]
	if w == nil {
		w = &destWorker{dest: d, q: make(chan queued, r.cfg.DestQueueSize)}
		r.dests[key] = w
		if r.runCtx != nil {
			r.startDestLocked(w)
		}
	}
	r.mu.Unlock()
	ack.hold()
	select {
	case w.q <- queued{u, ack}:
	default:
		ack.release()
		r.m.queueDropped.WithLabelValues("destination").Inc()
		r.m.delivered.WithLabelValues(string(d.Protocol), "queue_full").Inc()
	}
}

func (r *Router) startDestLocked(w *destWorker) {
	if w.started || r.runCtx == nil {
		return
	}
	w.started = true
	ctx := r.runCtx
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.runDest(ctx, w)
	}()
}

// sleep waits d on the router clock or until ctx ends.
func (r *Router) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-r.clk.After(d):
		return true
	}
}

func (r *Router) runDest(ctx context.Context, w *destWorker) {
	backoff := r.cfg.BackoffMin
	grow := func() {
		backoff *= 2
		if backoff > r.cfg.BackoffMax {
			backoff = r.cfg.BackoffMax
		}
	}
	proto := string(w.dest.Protocol)
	log := r.log.With("destination", w.dest.Address, "protocol", proto)
	var s delivery.Sender
	for s == nil {
		var err error
		s, err = r.deps.Dial(w.dest, r.onDownlink)
		if err == nil {
			break
		}
		log.Warn("dial destination", "err", err, "backoff", backoff)
		if !r.sleep(ctx, backoff) {
			return
		}
		grow()
	}
	r.mu.Lock()
	w.sender = s
	closed := r.closed
	r.mu.Unlock()
	if closed {
		_ = s.Close()
		return
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(sctx); err != nil && sctx.Err() == nil {
			log.Error("sender stopped", "err", err)
		}
	}()
	defer func() {
		cancel()
		_ = s.Close()
		<-done
	}()
	backoff = r.cfg.BackoffMin
	for {
		select {
		case <-ctx.Done():
			return
		case q := <-w.q:
			err := s.Send(ctx, q.u)
			if err != nil && ctx.Err() != nil {
				return // stopping: not acknowledged, so the broker sends it again
			}
			q.ack.release() // sent, or given up on
			if err != nil {
				r.m.delivered.WithLabelValues(proto, "error").Inc()
				log.Warn("deliver", "err", err, "backoff", backoff)
				if !r.sleep(ctx, backoff) {
					return
				}
				grow()
				continue
			}
			backoff = r.cfg.BackoffMin
			r.m.delivered.WithLabelValues(proto, "ok").Inc()
		}
	}
}
