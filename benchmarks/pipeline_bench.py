"""End-to-end pipeline benchmark on the embedded broker: metric messages in, alerts out.

    .venv/bin/python benchmarks/pipeline_bench.py                        # defaults: ~3-4 min on 2 cores, SQLite
    .venv/bin/python benchmarks/pipeline_bench.py --database-url postgres://postgres@127.0.0.1:5432/bkm_pipeline_bench
    .venv/bin/python benchmarks/pipeline_bench.py --seconds 20 --profile  # smaller, cProfile the alert builder drain

Processes (2 cores shared by all of them, nothing pinned):
  broker    embedded Tansu (memory storage) and embedded Valkey.
  access    a spawned process running AccessRunner exactly as `manage.py run_access --type data` builds it
            (strategies and topics from the database through the real `sources.load_strategies`, settings
            from the environment: BKM_ACCESS_ALLOWED_LATENESS=0, BKM_ACCESS_SNAPSHOT_INTERVAL=--snapshot-interval,
            5 s as in production), plus an
            on_events callback that records each event's window close time (`closed_at`: the wall time after
            the batch was ingested and its windows closed, before the events are produced).
  alert     the real `manage.py run_alert` as a subprocess (log to a file), consuming the event topic.
  producer  this process: paced production of bk-monitor metric messages (docs/ARCHITECTURE.md, Data contracts:
            metric message), keyed by ip.
Every Kafka producer runs with BKM_KAFKA_COMPRESSION=none (the embedded broker serves snappy/lz4 batches
~8x slower, docs/ARCHITECTURE.md, The embedded broker; production defaults to snappy),
BKM_KAFKA_SESSION_TIMEOUT_MS=6000.

Workload ("realistic mix"): --series hosts, each one message per event-time minute with --metrics
values (metric0..); --strategies strategies over one result table, strategy k on metric k % metrics,
kind (k // metrics) % 3:
  0  Threshold, two levels (warning >= 80, fatal >= 95), AVG, 2 of 3 windows, recovery 3 windows
  1  SimpleRingRatio level 3 (ceil 100 %, floor 60 %), 1 of 1, recovery 2 windows
  2  Threshold level 2 (>= 85), MAX, agg_condition bk_target_cloud_id = "0" (half the hosts)
Values: a base per (host, metric) in [20, 60] with +-5 % noise; each (host, metric) starts an "episode"
with probability --episode-rate per window: 3-10 windows at 82-92 (warning), 35 % of episodes escalate
to 96-110 (fatal) half way through (severity change: the fatal event closes the warning alert and opens
a new one); then back to base: recovering, recovered. "points" are metric values read by >= 1 strategy.
Event time advances one minute per (series x metrics / rate) seconds of wall time (1 s by default),
so windows close continuously; lateness 0 (a partition's window closes at its first later message).

Measured:
  1 e2e     input rate actually produced, access consumer lag (messages) and alert builder lag (events
            emitted by access not yet stored) when production stops, and how long both take to drain.
  2 latency per event that opened an alert: window close (access `closed_at`) -> Alert.create_time
            (stamped at the builder's INSERT, inside its transaction; the commit follows within the same
            batch), p50/p99/max; the same for every stored event (-> Event.create_time); and from the
            produce() of the first message past the window's end (the earliest moment the window could
            close) -> Alert.create_time. The first --warmup windows are excluded (group joins, ring-ratio
            history).
  3 builder  the alert builder alone: the event topic of run 1 re-read from the start by a fresh group into
            emptied alert/event/log tables, AlertRunner in a spawned process (the command's code path),
            timed from the first non-empty batch to the last event applied: events/s and alert rows
            changed/s (opened + ended + updated per batch), per-batch apply time. --profile: cProfile there.

Prints a table and writes JSON to benchmarks/results/pipeline_bench.json.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing as mp
import os
import platform
import pstats
import queue
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "pipeline_bench.json"
TABLE = "bench.pipeline_metrics"
INTERVAL = 60
PARTITIONS = 2
EVENT_PARTITIONS = 3
CLK_TCK = os.sysconf("SC_CLK_TCK")


def setup_django() -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


# ---------------------------------------------------------------- workload

def strategy_configs(n: int, metrics: int) -> list[dict[str, Any]]:
    """docs/ARCHITECTURE.md strategy shape (Data contracts: strategy), as the strategy API accepts it (no ids: the
    database assigns them)."""

    def detect(level: int, count: int, window: int, recovery: int) -> dict[str, Any]:
        return {"level": level, "connector": "and", "trigger_config": {"count": count, "check_window": window},
                "recovery_config": {"check_window": recovery, "status_setter": "recovery"}}

    out = []
    for k in range(n):
        metric, kind = f"metric{k % metrics}", (k // metrics) % 3
        conditions: list[dict[str, Any]] = []
        agg = "AVG"
        if kind == 0:
            name = f"{metric} high"
            algorithms = [{"level": 2, "type": "Threshold", "config": [[{"method": "gte", "threshold": 80}]]},
                          {"level": 1, "type": "Threshold", "config": [[{"method": "gte", "threshold": 95}]]}]
            detects = [detect(1, 2, 3, 3), detect(2, 2, 3, 3)]
        elif kind == 1:
            name = f"{metric} jump"
            algorithms = [{"level": 3, "type": "SimpleRingRatio", "config": {"floor": 60, "ceil": 100}}]
            detects = [detect(3, 1, 1, 2)]
        else:
            name = f"{metric} peak (cloud 0)"
            agg = "MAX"
            conditions = [{"key": "bk_target_cloud_id", "method": "eq", "value": ["0"]}]
            algorithms = [{"level": 2, "type": "Threshold", "config": [[{"method": "gte", "threshold": 85}]]}]
            detects = [detect(2, 1, 2, 2)]
        out.append({
            "name": f"pipeline bench {k}: {name}", "bk_biz_id": 2, "is_enabled": True, "labels": ["bench"],
            "items": [{"name": name, "query_configs": [{
                "data_type_label": "time_series", "result_table_id": TABLE, "metric_field": metric,
                "agg_method": agg, "agg_interval": INTERVAL, "agg_dimension": ["bk_target_ip"],
                "agg_condition": conditions}],
                "algorithms": algorithms,
                "no_data_config": {"is_enabled": False, "continuous": 5, "level": 2}}],
            "detects": detects,
            "notice": {"user_groups": [], "signal": ["abnormal", "recovered"]},
        })
    return out


def ip_of(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def build_messages(series: int, metrics: int, windows: int, t0: int, episode_rate: float, seed: int = 11
                   ) -> tuple[list[tuple[int, bytes, bytes]], list[int], dict[str, int]]:
    """(window, key, value) in event-time order (one message per host per window, at second i % 60 of
    the window), the index of each window's first message, and episode counts."""
    import orjson

    rng = random.Random(seed)
    base = [[rng.uniform(20, 60) for _ in range(metrics)] for _ in range(series)]
    # per (host, metric): [windows left, escalate at (windows left), level value range]
    episode: list[list[list[float] | None]] = [[None] * metrics for _ in range(series)]
    ips = [ip_of(i) for i in range(series)]
    keys = [ip.encode() for ip in ips]
    clouds = ["0" if i % 2 == 0 else "1" for i in range(series)]
    order = sorted(range(series), key=lambda i: (i % 60, i))
    names = [f"metric{m}" for m in range(metrics)]
    out: list[tuple[int, bytes, bytes]] = []
    starts: list[int] = []
    stats = {"episodes": 0, "escalating": 0, "abnormal_host_metric_windows": 0}
    dumps, uniform, rand = orjson.dumps, rng.uniform, rng.random
    for w in range(windows):
        starts.append(len(out))
        current: list[list[float]] = []
        for i in range(series):
            row = []
            for m in range(metrics):
                ep = episode[i][m]
                if ep is None and rand() < episode_rate:
                    length = rng.randint(3, 10)
                    escalate = length // 2 if rand() < 0.35 else -1
                    ep = episode[i][m] = [length, escalate]
                    stats["episodes"] += 1
                    stats["escalating"] += escalate >= 0
                if ep is not None:
                    stats["abnormal_host_metric_windows"] += 1
                    fatal = ep[1] >= 0 and ep[0] <= ep[1]
                    row.append(uniform(96, 110) if fatal else uniform(82, 92))
                    ep[0] -= 1
                    if ep[0] <= 0:
                        episode[i][m] = None
                else:
                    row.append(base[i][m] * uniform(0.95, 1.05))
            current.append(row)
        for i in order:
            out.append((w, keys[i], dumps({
                "time": t0 + w * INTERVAL + i % 60,
                "dimensions": {"bk_biz_id": 2, "bk_target_ip": ips[i], "bk_target_cloud_id": clouds[i]},
                "metrics": {names[m]: round(current[i][m], 3) for m in range(metrics)}})))
    return out, starts, stats


# ---------------------------------------------------------------- small helpers

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def cpu_seconds_of(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except OSError:
        return float("nan")


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------- access child (spawned)

def access_child(out: Any, stop: Any, close_file: str) -> None:
    try:
        _access_child(out, stop, close_file)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        import traceback
        out.put(("error", f"{exc!r}\n{traceback.format_exc()}"))


def _access_child(out: Any, stop: Any, close_file: str) -> None:
    setup_django()
    import functools

    import orjson
    from django.conf import settings

    from alarm_backends.core.kafka.defaults import default_cluster
    from alarm_backends.service.access.data.runner import AccessRunner, AccessSettings
    from alarm_backends.service.access.data.sources import load_strategies, redis_client, strategy_version
    from alarm_backends.service.trigger.event import Event

    closed: dict[str, tuple[float, str, int]] = {}

    def on_events(events: list[Event], closed_at: float) -> None:
        for e in events:
            closed[e.event_id] = (closed_at, e.event_type, e.time)

    # exactly as run_access builds it (alarm_backends/management/commands/run_access.py), plus on_events
    runner = AccessRunner(
        AccessSettings(
            group_id=settings.ACCESS_DATA_GROUP, access_type="data", event_topic=settings.ALARM_EVENT_TOPIC,
            lateness=settings.ACCESS_ALLOWED_LATENESS_SECONDS,
            snapshot_interval=settings.ACCESS_SNAPSHOT_INTERVAL_SECONDS,
            memory_seconds=settings.ACCESS_HISTORY_MEMORY_SECONDS, timezone=settings.TIME_ZONE),
        cluster=default_cluster(), redis_client=redis_client(),
        load_strategies=functools.partial(load_strategies, "time_series"), strategy_version=strategy_version,
        on_events=on_events)
    from alarm_backends.core.gc_tuning import tune_for_long_lived_state
    tune_for_long_lived_state()  # as run_access does
    out.put(("consuming", sorted(runner.index.topics), len(runner.index.items)))
    last = 0.0
    assigned: list[Any] = []
    while not stop.is_set():
        runner.step()
        now = time.time()
        if now - last >= 0.25:
            last = now
            if runner.consumer.assignment() != assigned:
                assigned = runner.consumer.assignment()
                out.put(("assigned", assigned))
            out.put(("progress", now, runner.messages, {p: s.offset for (_t, p), s in runner.states.items()},
                     runner.events, time.process_time()))
    runner.close()
    Path(close_file).write_bytes(orjson.dumps(closed))
    out.put(("progress", time.time(), runner.messages, {p: s.offset for (_t, p), s in runner.states.items()},
             runner.events, time.process_time()))
    out.put(("done", runner.messages, runner.events, runner.invalid))


# ---------------------------------------------------------------- builder drain child (spawned)

def drain_child(out: Any, group: str, total_events: int, profile: bool, deadline: float) -> None:
    try:
        _drain_child(out, group, total_events, profile, deadline)
    except BaseException as exc:  # noqa: BLE001
        import traceback
        out.put(("error", f"{exc!r}\n{traceback.format_exc()}"))


def _drain_child(out: Any, group: str, total_events: int, profile: bool, deadline: float) -> None:
    setup_django()
    import logging

    from django.conf import settings

    from alarm_backends.core.kafka.defaults import default_cluster
    from alarm_backends.service.alert import runner as runner_module
    from alarm_backends.service.alert.runner import AlertRunner, AlertSettings

    logging.getLogger("alarm_backends.service.alert.runner").setLevel(logging.WARNING)  # keep the terminal quiet
    batches: list[tuple[int, float, int, int, int, int]] = []  # events, apply s, new, opened, ended, updated
    real_apply = runner_module.apply_parsed

    def apply_parsed(events: list[Any], *a: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        result = real_apply(events, *a, **kw)
        batches.append((len(events), time.perf_counter() - t, result.new_events, len(result.opened),
                        len(result.ended), len(result.updated)))
        return result

    runner_module.apply_parsed = apply_parsed  # type: ignore[assignment]
    # as run_alert builds it, with a fresh group (reads the topic from the start)
    runner = AlertRunner(AlertSettings(group_id=group, topics=(settings.ALARM_EVENT_TOPIC,)),
                         cluster=default_cluster())
    profiler = cProfile.Profile() if profile else None
    t0 = c0 = None
    end = time.monotonic() + deadline
    while runner.messages < total_events and time.monotonic() < end:
        if t0 is None:
            batch = runner.consumer.get_messages(runner.settings.batch_size, runner.settings.poll_timeout)
            if not batch:
                continue
            # first non-empty batch: start the clock, then process it through step()'s own code
            t0, c0 = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            runner.consumer.get_messages = _replay_once(runner.consumer.get_messages, batch)  # type: ignore
        runner.step()
    t1, c1 = time.perf_counter(), time.process_time()
    if profiler:
        profiler.disable()
    runner.consumer.close()
    result: dict[str, Any] = {"messages": runner.messages, "applied": runner.applied, "invalid": runner.invalid,
                              "seconds": (t1 - t0) if t0 else float("nan"),
                              "cpu_seconds": (c1 - c0) if c0 is not None else float("nan"), "batches": batches}
    if profiler:
        for key in ("cumulative", "tottime"):
            s = io.StringIO()
            pstats.Stats(profiler, stream=s).sort_stats(key).print_stats(30)
            result[f"profile_{key}"] = s.getvalue()
        s = io.StringIO()  # our own functions only (bkmonitor/, alarm_backends/), by cumulative time
        pstats.Stats(profiler, stream=s).sort_stats("cumulative").print_stats(r"(bkmonitor|alarm_backends)/", 25)
        result["profile_ours"] = s.getvalue()
    out.put(("done", result))


def _replay_once(real: Any, batch: Any) -> Any:
    pending = [batch]

    def get_messages(count: int = 500, timeout: float = 1.0) -> Any:
        if pending:
            return pending.pop()
        return real(count, timeout)

    return get_messages


# ---------------------------------------------------------------- parent

def configure_env(args: argparse.Namespace, tmp: Path, broker: Any, valkey: Any, run_id: str) -> dict[str, str]:
    host, port = broker.bootstrap_servers.split(",")[0].rsplit(":", 1)
    env = {
        "BK_MONITOR_KAFKA_HOST": host, "BK_MONITOR_KAFKA_PORT": port, "REDIS_URL": valkey.url,
        "BKM_ALARM_EVENT_TOPIC": f"bench_pipeline_events_{run_id}",
        "BKM_ALARM_EVENT_TOPIC_PARTITIONS": str(EVENT_PARTITIONS),
        "BKM_ACCESS_DATA_GROUP": f"bench-pipeline-access-{run_id}", "BKM_ALERT_GROUP": f"bench-pipeline-alert-{run_id}",
        "BKM_ACCESS_ALLOWED_LATENESS": "0", "BKM_ACCESS_SNAPSHOT_INTERVAL": str(args.snapshot_interval),
        "BKM_KAFKA_SESSION_TIMEOUT_MS": "6000", "BKM_KAFKA_COMPRESSION": "none",
        "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONUNBUFFERED": "1",
    }
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
        env["DJANGO_SECRET_KEY"] = os.environ.get("DJANGO_SECRET_KEY") or "bench-only-secret-key"  # PostgreSQL needs one
    else:
        env["BKM_SQLITE_PATH"] = str(tmp / "pipeline_bench.sqlite3")
    os.environ.update(env)
    os.environ.pop("DATABASE_URL", None) if not args.database_url else None
    return env


def ensure_pg_database(url: str) -> None:
    """Create the database of `url` when it does not exist (trust auth, as on this machine)."""
    import psycopg
    from urllib.parse import urlparse

    u = urlparse(url)
    name = u.path.lstrip("/")
    admin = u._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_metadata_and_strategies(args: argparse.Namespace, bootstrap: str, topic: str) -> int:
    from django.core.management import call_command
    from django.db import connection

    from alarm_backends.core.kafka.defaults import default_cluster
    from alarm_backends.core.kafka.topics import TopicManager
    from bkmonitor.api.serializers import StrategySerializer
    from bkmonitor.models import Alert, Event, Strategy
    from bkmonitor.strategies.write import save_strategy
    from metadata.models import ClusterInfo, KafkaStorage, ResultTable

    call_command("migrate", verbosity=0)
    if Strategy.objects.exists() or Alert.objects.exists() or Event.objects.exists():
        raise SystemExit(f"the database ({connection.settings_dict['NAME']}) already has strategies or alerts: "
                         "give an empty one (this benchmark deletes alert rows between its runs)")
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    kafka, _ = ClusterInfo.objects.update_or_create(
        cluster_name="bench-kafka", defaults={"domain_name": host, "port": int(port), "cluster_type": "kafka"})
    ResultTable.objects.get_or_create(table_id=TABLE, defaults={"bk_biz_id": 2})
    KafkaStorage.objects.update_or_create(table_id=TABLE, defaults={"topic": topic, "partition": PARTITIONS,
                                                                    "storage_cluster": kafka})
    for config in strategy_configs(args.strategies, args.metrics):
        serializer = StrategySerializer(data=config)
        serializer.is_valid(raise_exception=True)
        save_strategy(serializer.validated_data, user="bench")
    topics = TopicManager(default_cluster())
    topics.create_topic(topic, partitions=PARTITIONS, config={"retention.ms": "-1"})
    from django.conf import settings
    topics.create_topic(settings.ALARM_EVENT_TOPIC, partitions=EVENT_PARTITIONS, config={"retention.ms": "-1"})
    return Strategy.objects.count()


def wait_for_line(path: Path, needle: str, proc: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and needle in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}:\n{path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    raise TimeoutError(f"no {needle!r} from {proc.args} in {timeout}s")


def wait_group_stable(group: str, topic: str, timeout: float) -> float:
    from alarm_backends.core.kafka.offsets import OffsetManager

    t = time.monotonic()
    om = OffsetManager(group, topic)
    while time.monotonic() - t < timeout:
        try:
            if om.group_state() == "STABLE":
                return time.monotonic() - t
        except Exception:  # noqa: BLE001 - the group may not exist yet
            pass
        time.sleep(0.2)
    raise TimeoutError(f"group {group} not stable after {timeout}s")


def clear_alert_tables() -> None:
    from django.db import connection, transaction

    from bkmonitor.models import Alert, AlertLog, Event

    with transaction.atomic(), connection.cursor() as cur:
        for model in (AlertLog, Event, Alert):
            cur.execute(f"DELETE FROM {model._meta.db_table}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=50_000, help="input points/s (metric values read by a strategy)")
    ap.add_argument("--seconds", type=float, default=60, help="wall seconds of production")
    ap.add_argument("--series", type=int, default=5000, help="hosts (one message per host per event minute)")
    ap.add_argument("--metrics", type=int, default=10, help="metric values per message")
    ap.add_argument("--strategies", type=int, default=20)
    ap.add_argument("--episode-rate", type=float, default=0.004,
                    help="probability per (host, metric, window) that an abnormal episode starts")
    ap.add_argument("--snapshot-interval", type=float, default=5.0,
                    help="seconds between access checkpoints (the production default is 5)")
    ap.add_argument("--warmup", type=int, default=3, help="first windows left out of the latency statistics")
    ap.add_argument("--drain-timeout", type=float, default=90, help="seconds to wait for the pipeline to catch up")
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL (created if missing; must be empty)")
    ap.add_argument("--no-builder-drain", action="store_true", help="skip measurement 3 (the builder alone)")
    ap.add_argument("--profile", action="store_true", help="cProfile the builder drain (measurement 3)")
    ap.add_argument("--json", default=str(RESULTS))
    args = ap.parse_args(argv)

    started = time.perf_counter()
    run_id = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="pipeline_bench_"))
    if args.database_url:
        ensure_pg_database(args.database_url)
    sys.path.insert(0, str(REPO))
    from alarm_backends.core.embedded import EmbeddedKafkaBroker, EmbeddedValkey

    broker, valkey = EmbeddedKafkaBroker(), EmbeddedValkey()
    broker.start()
    valkey.start()
    alert_proc: subprocess.Popen | None = None
    access_proc: Any = None
    ctx = mp.get_context("spawn")
    try:
        env = configure_env(args, tmp, broker, valkey, run_id)
        setup_django()
        import confluent_kafka
        from django.conf import settings
        from django.db import connection

        from alarm_backends.core.kafka.cluster import KafkaClusterConfig
        from alarm_backends.core.kafka.partitioner import partition_for_key
        from alarm_backends.core.kafka.producer import KafkaProducer
        from bkmonitor.models import Alert, AlertLog, Event, LogOp

        db_desc = (f"PostgreSQL {connection.settings_dict['NAME']}" if args.database_url
                   else "SQLite file (throwaway)")
        topic = f"bench_pipeline_metrics_{run_id}"
        n_strategies = setup_metadata_and_strategies(args, broker.bootstrap_servers, topic)

        # workload
        matched_metrics = min(args.metrics, args.strategies)
        per_window_points = args.series * matched_metrics
        window_wall = per_window_points / args.rate
        windows = max(args.warmup + 2, int(round(args.seconds / window_wall)))
        now = int(time.time())
        t0 = now - now % 3600 - 6 * 3600
        t = time.perf_counter()
        messages, starts, ep_stats = build_messages(args.series, args.metrics, windows, t0, args.episode_rate)
        n = len(messages)
        msgs_per_s = args.rate / matched_metrics
        per_partition = dict.fromkeys(range(PARTITIONS), 0)
        for _w, key, _v in messages:
            per_partition[partition_for_key(key, PARTITIONS)] += 1
        msg_bytes = sum(len(v) for _w, _k, v in messages) / n
        print(f"machine: {os.cpu_count()} cores (shared by broker, Valkey, access, alert builder, producer; unpinned), "
              f"{platform.platform()}, python {platform.python_version()}, confluent-kafka "
              f"{confluent_kafka.version()[0]}/librdkafka {confluent_kafka.libversion()[0]}, load {loadavg()}", flush=True)
        print(f"database: {db_desc}; broker: embedded Tansu (memory), all topics UNCOMPRESSED "
              f"(BKM_KAFKA_COMPRESSION=none); lateness 0, snapshots every {args.snapshot_interval:g} s", flush=True)
        print(f"workload: {args.series:,} hosts x {windows} windows = {n:,} msgs ({msg_bytes:.0f} B, {args.metrics} "
              f"metrics, {matched_metrics} read by strategies) -> {n * matched_metrics:,} points; {n_strategies} "
              f"strategies ({args.series * args.strategies:,} series); {ep_stats['episodes']:,} episodes "
              f"({ep_stats['escalating']:,} escalating), {ep_stats['abnormal_host_metric_windows'] / (n * args.metrics):.1%} "
              f"of host-metric-windows abnormal; target {args.rate:,.0f} points/s = {msgs_per_s:,.0f} msgs/s, one "
              f"event-time minute per {window_wall:.2f} s wall; built in {time.perf_counter() - t:.1f}s", flush=True)

        # processes
        alert_log = tmp / "run_alert.log"
        with open(alert_log, "wb") as log:
            alert_proc = subprocess.Popen([sys.executable, str(REPO / "manage.py"), "run_alert"], cwd=REPO,
                                          env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
        access_q = ctx.Queue()
        access_stop = ctx.Event()
        close_file = str(tmp / "closed.json")
        access_proc = ctx.Process(target=access_child, args=(access_q, access_stop, close_file), daemon=True)
        access_proc.start()
        wait_for_line(alert_log, "alert: consuming", alert_proc, 60)
        progress: list[tuple[float, int, dict[int, int], int, float]] = []

        def pump(block: float = 0.0) -> list[Any]:
            got = []
            while True:
                try:
                    msg = access_q.get(timeout=block) if block else access_q.get_nowait()
                except queue.Empty:
                    return got
                block = 0.0
                if msg[0] == "error":
                    raise RuntimeError(f"access child failed:\n{msg[1]}")
                if msg[0] == "progress":
                    progress.append(msg[1:])
                got.append(msg)

        # wait until the access group has both partitions and the builder's group is stable
        end = time.monotonic() + 60
        have: set[int] = set()
        while len(have) < PARTITIONS:
            for msg in pump(0.5):
                if msg[0] == "assigned":
                    have = {p for _t, p in msg[1]}
            if time.monotonic() > end:
                raise TimeoutError(f"access child not assigned (has {have})")
        join_alert = wait_group_stable(settings.ALERT_GROUP, settings.ALARM_EVENT_TOPIC, 60)
        print(f"access assigned {sorted(have)}; alert group stable (+{join_alert:.1f}s); producing ...", flush=True)

        # produce, paced
        producer = KafkaProducer(KafkaClusterConfig(hosts=(broker.bootstrap_servers,)),
                                 config={"compression.type": "none", "linger.ms": 5, "batch.size": 262144})
        boundary_wall: dict[int, float] = {}
        cpu0 = {"broker": cpu_seconds_of(broker.pid), "access": cpu_seconds_of(access_proc.pid),
                "alert": cpu_seconds_of(alert_proc.pid), "valkey": cpu_seconds_of(valkey.pid)}
        p0 = time.process_time()
        start_wall = time.time()
        start = time.perf_counter()
        i = 0
        next_report = 5.0
        produce = producer.produce
        behind_max = 0.0
        while i < n:
            elapsed = time.perf_counter() - start
            target = min(n, int(elapsed * msgs_per_s) + 1)
            behind_max = max(behind_max, (target - i) / msgs_per_s)
            while i < target:
                w, key, value = messages[i]
                if i == starts[w]:
                    boundary_wall[w] = time.time()
                produce(topic, value, key=key)
                i += 1
                if i % 2000 == 0:
                    producer.poll(0)
            producer.poll(0)
            if elapsed >= next_report:
                pump()
                if progress:
                    last = progress[-1]
                    print(f"  t={elapsed:5.1f}s produced {i:,} msgs ({i / elapsed:,.0f}/s), access consumed "
                          f"{last[1]:,} ({i - last[1]:,} behind), events {last[3]:,}", flush=True)
                next_report += 5.0
            if i < n:
                sleep = (i + 1) / msgs_per_s - (time.perf_counter() - start)
                if sleep > 0:
                    time.sleep(min(sleep, 0.005))
        producer.flush(60)
        produce_s = time.perf_counter() - start
        produce_end_wall = time.time()
        producer_cpu = time.process_time() - p0
        # lag when production stops: access (messages), builder (events emitted but not stored)
        pump()
        access_prog = progress[-1]
        access_rate_during = access_prog[1] / max(1e-9, access_prog[0] - start_wall)
        access_lag = sum(per_partition[p] - (access_prog[2].get(p) or 0) for p in per_partition)
        events_stored_at_end = Event.objects.count()
        builder_lag = access_prog[3] - events_stored_at_end
        print(f"produced {n:,} msgs in {produce_s:.1f}s = {n / produce_s:,.0f} msgs/s = "
              f"{n * matched_metrics / produce_s:,.0f} points/s; at the end: access lag {access_lag:,} msgs "
              f"(report {time.time() - access_prog[0]:.2f}s old), builder lag {builder_lag:,} events", flush=True)

        # drain: access consumed everything, then the builder stored every event
        end = time.monotonic() + args.drain_timeout
        access_drained_at = None
        while time.monotonic() < end:
            pump(0.25)
            last = progress[-1]
            if access_drained_at is None and all((last[2].get(p) or 0) >= per_partition[p] for p in per_partition):
                access_drained_at = last[0]
            if access_drained_at is not None and Event.objects.count() >= last[3]:
                break
            time.sleep(0.25)
        builder_drained_at = time.time()
        drained = access_drained_at is not None and Event.objects.count() >= progress[-1][3]
        final_prog = progress[-1]
        cpu1 = {"broker": cpu_seconds_of(broker.pid), "access": cpu_seconds_of(access_proc.pid),
                "alert": cpu_seconds_of(alert_proc.pid), "valkey": cpu_seconds_of(valkey.pid)}
        wall_total = time.time() - start_wall
        access_stop.set()
        done = None
        end = time.monotonic() + 60
        while done is None and time.monotonic() < end:
            for msg in pump(0.5):
                if msg[0] == "done":
                    done = msg
        access_proc.join(30)
        alert_proc.send_signal(signal.SIGTERM)
        try:
            alert_proc.wait(30)
        except subprocess.TimeoutExpired:
            alert_proc.kill()
        _, access_messages, access_events, access_invalid = done
        closed = json.loads(Path(close_file).read_bytes())
        kinds: dict[str, int] = {}
        for _at, kind, _t in closed.values():
            kinds[kind] = kinds.get(kind, 0) + 1

        # latencies
        warm_time = t0 + args.warmup * INTERVAL

        def boundary_of(event_time: int) -> float | None:
            w = (event_time + INTERVAL - t0) // INTERVAL  # the window after the event's window
            return boundary_wall.get(w)

        opened = list(AlertLog.objects.filter(op=LogOp.CREATE).values_list("event_id", "alert__create_time"))
        open_lat, input_lat = [], []
        for event_id, created in opened:
            info = closed.get(event_id)
            if info is None or info[2] < warm_time:
                continue
            open_lat.append(created.timestamp() - info[0])
            b = boundary_of(info[2])
            if b is not None:
                input_lat.append(created.timestamp() - b)
        event_lat = []
        for event_id, created in Event.objects.values_list("event_id", "create_time").iterator(chunk_size=5000):
            info = closed.get(event_id)
            if info is not None and info[2] >= warm_time:
                event_lat.append(created.timestamp() - info[0])
        alerts_total = Alert.objects.count()
        alert_status = dict(Alert.objects.values_list("status").annotate(n=__import__(
            "django.db.models", fromlist=["Count"]).Count("id")).values_list("status", "n"))
        blocked = Alert.objects.filter(is_blocked=True).count()
        flapping = Alert.objects.filter(is_flapping=True).count()
        log_ops = dict(AlertLog.objects.values("op").annotate(n=__import__(
            "django.db.models", fromlist=["Count"]).Count("id")).values_list("op", "n"))
        events_stored = Event.objects.count()
        first_alert, last_alert = None, None
        times = list(Alert.objects.order_by("create_time").values_list("create_time", flat=True)[:1]) + list(
            Alert.objects.order_by("-create_time").values_list("create_time", flat=True)[:1])
        if times:
            first_alert, last_alert = times[0].timestamp(), times[1].timestamp()

        e2e = {
            "messages": n, "points": n * matched_metrics, "windows": windows, "produce_seconds": produce_s,
            "input_msgs_per_s": n / produce_s, "input_points_per_s": n * matched_metrics / produce_s,
            "producer_max_behind_s": behind_max, "access_lag_at_end_msgs": access_lag,
            "builder_lag_at_end_events": builder_lag,
            "access_drain_s": (access_drained_at - produce_end_wall) if access_drained_at else None,
            "builder_drain_s": (builder_drained_at - produce_end_wall) if drained else None,
            "drained": drained, "access_msgs_per_s_during_input": access_rate_during,
            "access_points_per_s_during_input": access_rate_during * matched_metrics,
            "access_msgs_per_s_overall": final_prog[1] / max(1e-9, final_prog[0] - start_wall),
            "access_cpu_us_per_msg": (cpu1["access"] - cpu0["access"]) / max(1, final_prog[1]) * 1e6,
            "access_messages": access_messages, "access_events": access_events,
            "access_invalid": access_invalid, "event_kinds": kinds, "events_stored": events_stored,
            "alerts": alerts_total, "alert_status": alert_status, "blocked": blocked, "flapping": flapping,
            "log_ops": log_ops, "alerts_created_per_s": alerts_total / max(1e-9, (last_alert or 0) - (first_alert or 0)),
            "events_per_s_through_builder": events_stored / wall_total,
            "open_latency": {"n": len(open_lat), "p50_ms": pct(open_lat, 50) * 1e3, "p99_ms": pct(open_lat, 99) * 1e3,
                             "max_ms": max(open_lat, default=float("nan")) * 1e3},
            "event_latency": {"n": len(event_lat), "p50_ms": pct(event_lat, 50) * 1e3,
                              "p99_ms": pct(event_lat, 99) * 1e3, "max_ms": max(event_lat, default=float("nan")) * 1e3},
            "input_latency": {"n": len(input_lat), "p50_ms": pct(input_lat, 50) * 1e3,
                              "p99_ms": pct(input_lat, 99) * 1e3, "max_ms": max(input_lat, default=float("nan")) * 1e3},
            "cpu_cores": {k: (cpu1[k] - cpu0[k]) / wall_total for k in cpu0},
            "producer_cpu_cores": producer_cpu / wall_total, "wall_seconds": wall_total,
        }
        print(f"e2e done: {events_stored:,}/{access_events:,} events stored, {alerts_total:,} alerts "
              f"{alert_status}; drained: {drained}", flush=True)

        # measurement 3: the builder alone over the same events
        drain: dict[str, Any] | None = None
        if not args.no_builder_drain:
            clear_alert_tables()
            connection.close()
            print(f"builder alone: {access_events:,} events re-read by a fresh group into emptied tables ...", flush=True)
            dq = ctx.Queue()
            dp = ctx.Process(target=drain_child, args=(dq, f"bench-pipeline-drain-{run_id}", access_events,
                                                       args.profile, 600.0), daemon=True)
            dp.start()
            msg = dq.get(timeout=660)
            dp.join(30)
            if msg[0] == "error":
                raise RuntimeError(f"drain child failed:\n{msg[1]}")
            d = msg[1]
            b = d["batches"]
            changed = sum(x[3] + x[4] + x[5] for x in b)
            apply_s = [x[1] for x in b]
            drain = {
                "events": d["messages"], "applied": d["applied"], "seconds": d["seconds"],
                "events_per_s": d["messages"] / d["seconds"], "alert_rows_changed": changed,
                "alert_rows_changed_per_s": changed / d["seconds"],
                "opened": sum(x[3] for x in b), "ended": sum(x[4] for x in b), "updated": sum(x[5] for x in b),
                "batches": len(b), "mean_batch": statistics.mean(x[0] for x in b) if b else 0,
                "apply_share": sum(apply_s) / d["seconds"], "apply_p50_ms": pct(apply_s, 50) * 1e3,
                "apply_p99_ms": pct(apply_s, 99) * 1e3, "cpu_cores": d["cpu_seconds"] / d["seconds"],
                "us_per_event": d["cpu_seconds"] / max(1, d["messages"]) * 1e6,
                "alerts_after": Alert.objects.count(), "same_alert_count": Alert.objects.count() == alerts_total,
                "profile_cumulative": d.get("profile_cumulative"), "profile_tottime": d.get("profile_tottime"),
                "profile_ours": d.get("profile_ours"),
            }
    finally:
        if access_proc is not None and access_proc.is_alive():
            access_proc.terminate()
        if alert_proc is not None and alert_proc.poll() is None:
            alert_proc.kill()
        broker.stop(timeout=5.0)
        valkey.stop()

    # report
    o, ev, inp = e2e["open_latency"], e2e["event_latency"], e2e["input_latency"]
    target_ok = o["p99_ms"] < 2000 and e2e["input_points_per_s"] >= 0.98 * args.rate and e2e["access_lag_at_end_msgs"] < msgs_per_s * 2
    cores = ", ".join(f"{k} {v:.2f}" for k, v in e2e["cpu_cores"].items()) + f", producer {e2e['producer_cpu_cores']:.2f}"
    rows = [
        ("database", db_desc),
        ("input target", f"{args.rate:,.0f} points/s ({msgs_per_s:,.0f} msgs/s x {matched_metrics} points), "
                         f"{args.seconds:.0f} s"),
        ("input produced", f"{e2e['input_points_per_s']:,.0f} points/s ({e2e['input_msgs_per_s']:,.0f} msgs/s) over "
                           f"{e2e['produce_seconds']:.1f} s; {windows} windows"),
        ("access throughput", f"{e2e['access_points_per_s_during_input']:,.0f} points/s "
                              f"({e2e['access_msgs_per_s_during_input']:,.0f} msgs/s) while input ran; "
                              f"{e2e['access_cpu_us_per_msg']:,.0f} us CPU/msg"),
        ("access lag when input stopped", f"{e2e['access_lag_at_end_msgs']:,} msgs "
                                          f"(= {e2e['access_lag_at_end_msgs'] / msgs_per_s:.1f} s of input); "
                                          + _caught_up(e2e['access_drain_s'], args.drain_timeout, access_messages, n)),
        ("builder lag when input stopped", f"{e2e['builder_lag_at_end_events']:,} events; "
                                           + _caught_up(e2e['builder_drain_s'], args.drain_timeout)),
        ("events (access -> builder)", f"{e2e['access_events']:,} " + str(kinds) + f"; {e2e['events_stored']:,} stored"),
        ("alerts", f"{e2e['alerts']:,} {alert_status}, blocked {blocked:,}, flapping {flapping:,}; log {log_ops}"),
        ("window close -> alert row, p50 / p99 / max",
         f"{o['p50_ms']:,.0f} / {o['p99_ms']:,.0f} / {o['max_ms']:,.0f} ms (n={o['n']:,} opening events)"),
        ("window close -> event row, p50 / p99 / max",
         f"{ev['p50_ms']:,.0f} / {ev['p99_ms']:,.0f} / {ev['max_ms']:,.0f} ms (n={ev['n']:,} events)"),
        ("closing input produced -> alert row, p50/p99/max",
         f"{inp['p50_ms']:,.0f} / {inp['p99_ms']:,.0f} / {inp['max_ms']:,.0f} ms"),
        ("CPU cores used during e2e", cores),
    ]
    if drain:
        rows += [
            ("builder alone: events/s", f"{drain['events_per_s']:,.0f} ({drain['events']:,} events in "
                                        f"{drain['seconds']:.1f} s, {drain['batches']} batches of "
                                        f"~{drain['mean_batch']:.0f}, {drain['us_per_event']:.0f} us CPU/event)"),
            ("builder alone: alert rows changed/s", f"{drain['alert_rows_changed_per_s']:,.0f} (opened "
                                                    f"{drain['opened']:,}, ended {drain['ended']:,}, updated "
                                                    f"{drain['updated']:,}); apply_parsed p50/p99 "
                                                    f"{drain['apply_p50_ms']:,.0f}/{drain['apply_p99_ms']:,.0f} ms "
                                                    f"per batch, {drain['apply_share']:.0%} of the time; same "
                                                    f"alerts as e2e: {drain['same_alert_count']}"),
        ]
    print()
    print(f"== pipeline end to end: embedded Tansu (uncompressed topics), {os.cpu_count()} cores shared by broker, "
          f"Valkey, access, alert builder and producer")
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    verdict = (f"target p99 < 2 s at {args.rate:,.0f} points/s: "
               f"{'MET' if target_ok else 'MISSED'} (p99 {o['p99_ms']:,.0f} ms, input "
               f"{e2e['input_points_per_s']:,.0f} points/s, access lag at end {e2e['access_lag_at_end_msgs']:,} msgs)")
    print(verdict)
    if drain and drain.get("profile_cumulative"):
        print("\n== cProfile of the builder drain, by cumulative time")
        print(drain["profile_cumulative"])
        print("== by own time")
        print(drain["profile_tottime"])
        print("== our functions only, by cumulative time")
        print(drain["profile_ours"])
    results = {"args": vars(args), "database": db_desc, "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
               "episodes": ep_stats, "e2e": e2e, "builder_alone": drain, "target_met": target_ok, "verdict": verdict,
               "total_seconds": time.perf_counter() - started}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"total {results['total_seconds']:.0f}s; JSON written to {out}")
    return 0


def _caught_up(v: float | None, timeout: float, done: int | None = None, total: int | None = None) -> str:
    if v is not None:
        return f"caught up {v:.1f} s later"
    more = f"; had consumed {done:,} of {total:,} msgs: latencies cover only those" if total else ""
    return f"NOT caught up {timeout:.0f} s later (--drain-timeout){more}"


if __name__ == "__main__":
    raise SystemExit(main())
