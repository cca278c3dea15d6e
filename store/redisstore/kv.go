package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/luaivr/luaivr/store"
)

// kvKeys are app's four kv keys (see kvFns), in the app's slot.
func (s *Store) kvKeys(app string) []string {
	base := s.cfg.Prefix + ":kv:{" + escaper.Replace(app) + "}:"
	return []string{base + "v", base + "k", base + "x", base + "b"}
}

// KVGet implements store.KV.
func (s *Store) KVGet(ctx context.Context, app, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	client, octx, cancel, err := s.op(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	res := kvGetScript.Exec(octx, client, s.kvKeys(app), []string{key})
	if err := res.Error(); err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, false, nil
		}
		return nil, false, s.fail(ctx, "reading kv of app "+app, err)
	}
	b, err := res.AsBytes()
	if err != nil { // Lua's false is a nil reply
		return nil, false, nil
	}
	return b, true, nil
}

// KVSet implements store.KV.
func (s *Store) KVSet(ctx context.Context, app, key string, value []byte, ttl time.Duration, quota store.KVQuota) error {
	_, err := s.kvWrite(ctx, "set", app, key, string(value), ttl, quota)
	return err
}

// KVDelete implements store.KV.
func (s *Store) KVDelete(ctx context.Context, app, key string) error {
	_, err := s.kvWrite(ctx, "del", app, key, "", 0, store.KVQuota{})
	return err
}

// KVIncr implements store.KV.
func (s *Store) KVIncr(ctx context.Context, app, key string, delta float64, ttl time.Duration, quota store.KVQuota) (float64, error) {
	v, err := s.kvWrite(ctx, "incr", app, key, strconv.FormatFloat(delta, 'g', -1, 64), ttl, quota)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(v, 64)
}

// kvWrite runs kvWriteScript and returns the value stored.
func (s *Store) kvWrite(ctx context.Context, op, app, key, value string, ttl time.Duration, quota store.KVQuota) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	ttlMS := int64(0)
	if ttl > 0 {
		ttlMS = ms(ttl)
	}
	client, octx, cancel, err := s.op(ctx)
	if err != nil {
		return "", err
	}
	defer cancel()
	res, err := kvWriteScript.Exec(octx, client, s.kvKeys(app), []string{op, key, value,
		strconv.FormatInt(ttlMS, 10), strconv.Itoa(quota.Keys), strconv.FormatInt(quota.Bytes, 10)}).ToArray()
	if err != nil || len(res) < 2 {
		return "", s.fail(ctx, "writing kv of app "+app, err)
	}
	code, _ := res[0].AsInt64()
	switch code {
	case 0:
		return res[1].ToString()
	case 1:
		keys, _ := res[1].AsInt64()
		b, _ := res[2].AsInt64()
		return "", &store.KVQuotaError{App: app, Quota: quota, Keys: int(keys), Bytes: b}
	case 2:
		cur, _ := res[1].ToString()
		return "", fmt.Errorf("kv key %q holds %.40q, not a number", key, cur)
	default:
		cur, _ := res[1].ToString()
		return "", fmt.Errorf("kv key %q: %s + %s is not a number", key, cur, value)
	}
}

// KVList implements store.KV.
func (s *Store) KVList(ctx context.Context, app, prefix string, limit, maxBytes int) ([]store.KVPair, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	client, octx, cancel, err := s.op(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	res, err := kvListScript.Exec(octx, client, s.kvKeys(app),
		[]string{prefix, strconv.Itoa(max(0, limit)), strconv.Itoa(max(0, maxBytes))}).ToArray()
	if err != nil || len(res) == 0 {
		return nil, s.fail(ctx, "listing kv of app "+app, err)
	}
	if code, _ := res[0].AsInt64(); code == 1 {
		return nil, store.ErrKVListTooLarge
	}
	out := make([]store.KVPair, 0, (len(res)-1)/2)
	for i := 1; i+1 < len(res); i += 2 {
		k, _ := res[i].ToString()
		v, _ := res[i+1].AsBytes()
		out = append(out, store.KVPair{Key: k, Value: v})
	}
	return out, nil
}
