"""paho-mqtt and mosquitto_pub/sub helpers that wait on events, never on sleeps."""
import queue
import subprocess
import threading

import paho.mqtt.client as paho


class Paho:
    """A paho-mqtt client whose received messages land in a queue."""

    def __init__(self, port, client_id="", clean_session=True, will=None, keepalive=60, protocol=paho.MQTTv311,
                 username=None, password=None):
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.subscribed = queue.Queue()
        self.published = queue.Queue()
        self.connack = None
        self.client = paho.Client(client_id=client_id, clean_session=clean_session,
                                  protocol=protocol)
        if username is not None:
            self.client.username_pw_set(username, password)
        if will:
            topic, payload, qos, retain = will
            self.client.will_set(topic, payload, qos, retain)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda c, u, rc: self.disconnected.set()
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        self.client.on_subscribe = lambda c, u, mid, granted: self.subscribed.put(granted)
        self.client.on_publish = lambda c, u, mid: self.published.put(mid)
        self.client.connect("127.0.0.1", port, keepalive)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"

    def _on_connect(self, client, userdata, flags, rc):
        self.connack = (flags.get("session present", 0), rc)
        self.connected.set()

    def subscribe(self, topic, qos=0):
        self.client.subscribe(topic, qos)
        return self.subscribed.get(timeout=10)

    def publish(self, topic, payload, qos=0, retain=False, wait=True):
        info = self.client.publish(topic, payload, qos, retain)
        if wait:
            info.wait_for_publish(timeout=10)
            assert info.is_published()
        return info

    def get(self, timeout=10):
        return self.messages.get(timeout=timeout)

    def expect(self, n, timeout=10):
        return [self.get(timeout) for _ in range(n)]

    def stop(self, graceful=True):
        if graceful:
            self.client.disconnect()
        self.client.loop_stop()


def mosquitto_sub(port, *args, count=1, timeout=15):
    """Starts mosquitto_sub -C count; returns the Popen (read .communicate())."""
    return subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-C", str(count),
                             "-W", str(timeout), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def mosquitto_pub(port, *args):
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), *args],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r


class MosquittoSub:
    """mosquitto_sub -d -v, line-buffered (stdbuf); waits for its SUBACK so that publishes
    made after it are received."""

    def __init__(self, port, topic, qos=0, count=1, extra=(), timeout=20):
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "mosquitto_sub", "-d", "-v", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
             "-q", str(qos), "-C", str(count), "-W", str(timeout), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.debug = []
        for line in self.proc.stdout:
            self.debug.append(line)
            if "received SUBACK" in line:
                break
        else:
            raise AssertionError("mosquitto_sub got no SUBACK: " + "".join(self.debug))

    def messages(self):
        """Waits for mosquitto_sub to exit (-C count reached) and returns 'topic payload' lines."""
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err + "".join(self.debug)
        return [l for l in out.splitlines()
                if not l.startswith("Client ") and not l.startswith("Subscribed (mid")]
