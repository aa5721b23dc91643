"""Launchers for real PostgreSQL, Redis and Redis Cluster processes on loopback ports.

Used by the test fixtures, `loadline local` and the benchmark. Every process
records its pid under the workdir, so `stop_all(workdir)` cleans up even from
a new Python process after the starting one crashed.
"""

from loadline.services.errors import ServiceError
from loadline.services.pids import stop_all
from loadline.services.ports import free_port
from loadline.services.postgres import Postgres, start_postgres
from loadline.services.redis import RedisServer, start_redis
from loadline.services.redis_cluster import RedisCluster, start_redis_cluster

__all__ = ["Postgres", "RedisCluster", "RedisServer", "ServiceError", "free_port",
           "start_postgres", "start_redis", "start_redis_cluster", "stop_all"]
