#!/usr/bin/env python3
"""Cross-check of the big-qos1 scenario with Python paho-mqtt clients (issue 11 measured so).

    pip install paho-mqtt
    python3 bench/paho_big.py PORT [MESSAGES] [MIB] [PUB_ID] [SUB_ID]

One subscriber and one publisher (paho-mqtt 2.x, MQTT 3.1.1, network loops in their own
threads) on 127.0.0.1:PORT; MESSAGES publishes of MIB MiB at QoS 1, one at a time, each timed
from publish() to the subscriber's on_message. Prints every time and the median, in ms. Pass
client ids that land on different Culex shards (the bench's runner prints them).
"""
import statistics
import sys
import threading
import time

import paho.mqtt.client as mqtt

port = int(sys.argv[1])
messages = int(sys.argv[2]) if len(sys.argv) > 2 else 9
size = int(float(sys.argv[3]) * 1024 * 1024) if len(sys.argv) > 3 else 10 * 1024 * 1024
pub_id = sys.argv[4] if len(sys.argv) > 4 else "paho-pub"
sub_id = sys.argv[5] if len(sys.argv) > 5 else "paho-sub"
topic = "bench/paho-big"

got = threading.Event()
subscribed = threading.Event()
arrived = [0.0]


def on_message(_c, _u, msg):
    arrived[0] = time.perf_counter()
    if len(msg.payload) != size:
        print(f"short message: {len(msg.payload)} bytes", file=sys.stderr)
    got.set()


def on_subscribe(*_args):
    subscribed.set()


sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=sub_id)
sub.on_message = on_message
sub.on_subscribe = on_subscribe
sub.connect("127.0.0.1", port)
sub.loop_start()
sub.subscribe(topic, qos=1)
if not subscribed.wait(10):
    sys.exit("no SUBACK")
pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=pub_id)
pub.connect("127.0.0.1", port)
pub.loop_start()
payload = b"x" * size
times = []
for i in range(messages):
    got.clear()
    t0 = time.perf_counter()
    info = pub.publish(topic, payload, qos=1)
    if not got.wait(60):
        sys.exit(f"message {i} not delivered")
    info.wait_for_publish(60)
    times.append((arrived[0] - t0) * 1000)
    time.sleep(0.2)
pub.loop_stop()
sub.loop_stop()
print("deliver ms", " ".join(f"{t:.0f}" for t in times), "median", f"{statistics.median(times):.1f}")
