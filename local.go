package cachefront

import (
	"context"

	"github.com/cachefront/cachefront/internal/local"
	"github.com/redis/go-redis/v9"
)

// publish queues on p the event that tells every instance (this one
// included) what changed; see local.Publish for when it may travel with the
// change.
func (s *Store) publish(ctx context.Context, p redis.Pipeliner, ev local.Event) {
	_, cluster := s.be.Client.(*redis.ClusterClient)
	local.Publish(ctx, p, cluster, s.eventsChannel(), ev)
}

// publishNow publishes ev in a round trip of its own, for a change Redis has
// already acknowledged.
func (s *Store) publishNow(ctx context.Context, ev local.Event) error {
	return s.be.Pipelined(ctx, func(p redis.Pipeliner) { s.publish(ctx, p, ev) })
}

func (s *Store) eventsChannel() string { return s.keys.Events() }
