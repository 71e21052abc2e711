"""The facilitator's room with 100 learners: every record arrives, the view redraws fast,
and a room that never answers costs a learner microseconds.

100 simulated learners - each its own publisher, thread and connection, as 100 kernels
would be - publish at once to a throwaway redis-server (fakeredis where none is
installed): where they are, 3 predictions and 6 exercises with several attempts each.
Then every field is read back and compared with what its learner sent last, and the
facilitator's view is read and redrawn.

    python benchmarks/bench_room.py
"""

from __future__ import annotations

import random
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labkit.redis_server import LocalRedis, redis_server_binary  # noqa: E402
from labkit.room.dashboard import RoomView  # noqa: E402
from labkit.room.publisher import Publisher  # noqa: E402
from labkit.room.records import Room, learner_key, room_client  # noqa: E402

LEARNERS = 100
QUESTIONS = ("copy", "speedup", "long-ttl")
EXERCISES = ("mean-latency", "best-speedup", "ttl-budget", "choose-a-pattern", "write-cache-aside", "clean-shutdown")


def _work(publisher: Publisher, seed: int, start: threading.Barrier, sent: dict, costs: list) -> None:
    rng, last = random.Random(seed), {}
    start.wait()
    for question in QUESTIONS:
        last[f"pred:00/{question}"] = {"answer": rng.choice(("a", "b", "c"))}
    for exercise in EXERCISES:
        for attempt in range(1, rng.randint(1, 4) + 1):
            last[f"ex:00/{exercise}"] = {"passed": attempt > 2, "attempts": attempt, "failing": "the write path"}
            last["at"] = {"notebook": "00", "section": f"exercise {exercise}"}
            _timed_publish(publisher, f"ex:00/{exercise}", last[f"ex:00/{exercise}"], costs)
            _timed_publish(publisher, "at", last["at"], costs)
    for question in QUESTIONS:
        _timed_publish(publisher, f"pred:00/{question}", last[f"pred:00/{question}"], costs)
    sent[publisher.learner] = last


def _timed_publish(publisher: Publisher, field: str, value: dict, costs: list) -> None:
    began = time.perf_counter()
    publisher.publish(field, value)
    costs.append(time.perf_counter() - began)


def other_keys(url: str | None, count: int = 100_000) -> None:
    """A shared server is full of the lessons' keys: reading the room must not scan them."""
    client = room_client(url, timeout_seconds=10.0)
    for start in range(0, count, 10_000):
        client.mset({f"labkit:bench-learner:00:key-{i}": "x" * 50 for i in range(start, start + 10_000)})


def hundred_learners(url: str | None) -> None:
    room = f"bench-{random.randrange(16**6):06x}"
    publishers = [Publisher(room, f"learner-{i:03d}", lambda: room_client(url, timeout_seconds=2.0))
                  for i in range(LEARNERS)]
    start, sent, costs = threading.Barrier(LEARNERS + 1), {}, []
    threads = [threading.Thread(target=_work, args=(p, i, start, sent, costs)) for i, p in enumerate(publishers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    arrived = all(p.flush(60) for p in publishers)
    all_written = time.perf_counter() - began
    reader = Room(room, url=url)
    stored = {p.learner: reader.client.hgetall(learner_key(room, p.learner)) for p in publishers}
    fields = sum(len(v) for v in sent.values())
    matching = sum(
        1 for learner, last in sent.items() for field, value in last.items()
        if field in stored[learner] and _same(stored[learner][field], value)
    )
    print(f"{LEARNERS} learners, {len(costs)} publishes, {fields} distinct records")
    print(f"  every record arrived with its last value: {matching}/{fields} {'OK' if matching == fields else 'LOST'}"
          f" (queues drained: {arrived})")
    print(f"  all written within              {all_written * 1000:7.0f} ms of the start")
    p99 = statistics.quantiles(costs, n=100)[98]
    print(f"  one publish, learner's side:    median {statistics.median(costs) * 1e6:5.1f} µs, "
          f"99th percentile {p99 * 1e3:.0f} ms, max {max(costs) * 1e3:.0f} ms (here 100 learners' "
          "threads and their 100 room threads share one process's GIL; each real kernel has its own)")
    view = RoomView(reader.read, start=False)
    reads = [_seconds(reader.read) for _ in range(5)]
    redraws = [view.refresh() for _ in range(5)]
    print(f"  the view: read the room         median {statistics.median(reads) * 1000:5.0f} ms")
    print(f"  the view: read + redraw         median {statistics.median(redraws) * 1000:5.0f} ms, "
          f"max {max(redraws) * 1000:.0f} ms   target < 1000 ms")
    view.stop()
    reader.clear()


def _same(stored: str, value: dict) -> bool:
    import json

    record = json.loads(stored)
    record.pop("t", None)
    return record == value


def _seconds(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def silent_room() -> None:
    """A server that accepts connections and never answers: what does a publish cost?"""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    url = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    publisher = Publisher("bench-silent", "learner", lambda: room_client(url, timeout_seconds=0.5))
    costs = []
    for i in range(2000):
        _timed_publish(publisher, f"ex:00/e{i % 20}", {"passed": False, "attempts": i, "failing": None}, costs)
    time.sleep(1.0)  # the room thread times out and backs off meanwhile
    for i in range(2000):
        _timed_publish(publisher, f"ex:00/e{i % 20}", {"passed": False, "attempts": i, "failing": None}, costs)
    p99 = statistics.quantiles(costs, n=100)[98]
    print(f"a room that never answers: {len(costs)} publishes, median {statistics.median(costs) * 1e6:.1f} µs, "
          f"99th percentile {p99 * 1e6:.0f} µs, max {max(costs) * 1e6:.0f} µs   target < 5000 µs; "
          f"room thread failures so far: {publisher.failures}")
    server.close()
    for conn in held:
        conn.close()
    # The machine's own noise: the same loop setting a dict under a lock, no room at all.
    lock, plain, floor = threading.Lock(), {}, []
    for i in range(4000):
        began = time.perf_counter()
        with lock:
            plain[i % 20] = str(i)
        floor.append(time.perf_counter() - began)
    print(f"  the same loop with no room at all (a dict set under a lock): median "
          f"{statistics.median(floor) * 1e6:.1f} µs, max {max(floor) * 1e6:.0f} µs (this machine's noise, run to run)")


def main() -> None:
    if redis_server_binary():
        with LocalRedis() as server:
            print(f"on a throwaway redis-server ({server.url}), holding 100,000 lesson keys as well")
            other_keys(server.url)
            hundred_learners(server.url)
    else:
        print("no redis-server installed: on fakeredis")
        hundred_learners(None)
    print()
    silent_room()


if __name__ == "__main__":
    main()
