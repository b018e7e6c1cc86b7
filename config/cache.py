"""The cache holds only what may be lost (login-failure counts): when Redis is down, reads miss
and writes are dropped, with a warning, instead of failing the request that touched it."""

import logging

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class FailOpenRedisCache(RedisCache):
    def _or(self, fallback, operation: str, *args, **kwargs):
        try:
            return getattr(super(), operation)(*args, **kwargs)
        except RedisError as error:
            logger.warning("cache unavailable", extra={"operation": operation, "error": str(error)})
            return fallback

    def get(self, key, default=None, version=None):
        return self._or(default, "get", key, default, version)

    def get_many(self, keys, version=None):
        return self._or({}, "get_many", keys, version)

    def has_key(self, key, version=None):
        return self._or(False, "has_key", key, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or(False, "add", key, value, timeout, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or(None, "set", key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or(list(data), "set_many", data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or(False, "touch", key, timeout, version)

    def incr(self, key, delta=1, version=None):
        return self._or(0, "incr", key, delta, version)

    def delete(self, key, version=None):
        return self._or(False, "delete", key, version)

    def delete_many(self, keys, version=None):
        return self._or(None, "delete_many", keys, version)
