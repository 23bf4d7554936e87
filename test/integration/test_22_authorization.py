"""Authorization attacks (issue 12, points 1-5 and 12): wills outside the ACL, taking over
another identity's session, deny rules reached through intersecting wildcards, one coverage
rule for ACLs and tokens, pattern rules with unsafe client ids, forged log lines. Each test
tries to get around a rule with real clients and shows that what was refused never arrives,
next to a control that does."""
import asyncio
import signal

import websockets

import mqtt_raw as raw
from test_07_auth import make_users
from test_18_push import next_op, request
from test_19_tokens import issue

ACL = """
user dispatcher
topic read devices/+/status
topic readwrite devices/+/commands
topic deny devices/car-secret/#
topic read $SYS/#
topic read a/#
topic read #
pattern write devices/%u/#
pattern read devices/%u/commands
"""

USERS = ("dispatcher", "car-1", "car-2", "car-secret")


def secured(start_vigil, tmp_path, vigil_binary, acl=ACL, workers=2, auth_extra="", data_dir=None, extra_limits=""):
    pw = tmp_path / "passwd"
    if not pw.exists():
        make_users(vigil_binary, pw, {u: f"{u}-pass" for u in USERS})
    (tmp_path / "acl").write_text(acl)
    return start_vigil(workers, f'allow_anonymous = false\n[auth]\npassword_file = "{pw}"\n'
                                f'acl_file = "{tmp_path / "acl"}"\n{auth_extra}[limits]\n{extra_limits}', data_dir=data_dir)


def login(port, client_id, user, clean=True, will=None):
    """(client, CONNACK return code, session present)."""
    c = raw.RawClient(port)
    c.send(raw.connect(client_id, clean, username=user, password=f"{user}-pass", will=will))
    p = c.recv_packet()
    assert p.type == 2, p
    return c, p.body[1], p.body[0] & 1


def connected(port, client_id, user, clean=True, will=None):
    c, code, _ = login(port, client_id, user, clean, will)
    assert code == 0
    return c


def leave(c):
    """DISCONNECT and wait for the close: a persistent session queues from now on."""
    c.send(raw.DISCONNECT)
    assert c.closed_by_peer()


def resume(port, client_id, user):
    """Reconnects to a persistent session, which must still be there."""
    c, code, present = login(port, client_id, user, clean=False)
    assert (code, present) == (0, 1)
    return c


def suback(c, pid, *filters):
    c.send(raw.subscribe(pid, *filters))
    p = c.recv_packet()
    assert p.type == 9, p
    return p.body[2:]


def publish_acked(c, topic, payload, pid, retain=False):
    c.send(raw.publish(topic, payload, qos=1, pid=pid, retain=retain))
    p = c.recv_packet()
    assert p.type == 4, p


def received_until(c, marker):
    """The topics of the PUBLISHes `c` receives up to and including the first on `marker`
    (acked). Per-publisher order makes a marker sent after a refused message proof that the
    refused one was withheld, not late."""
    topics = []
    while True:
        p = c.recv_packet()
        assert p.type == 3, p
        if p.qos == 1:
            c.send(raw.ack("puback", p.pid))
        topics.append(p.topic)
        if p.topic == marker:
            return topics


def until_pingresp(c):
    """The topics of the PUBLISHes `c` receives before the answer to a PINGREQ (acked)."""
    c.send(raw.PINGREQ)
    topics = []
    while (p := c.recv_packet()).type != 13:
        assert p.type == 3, p
        if p.qos == 1:
            c.send(raw.ack("puback", p.pid))
        topics.append(p.topic)
    return topics


def test_wills_are_checked_at_connect(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary)
    disp = connected(v.port, "dispatcher", "dispatcher")
    assert suback(disp, 1, ("devices/+/commands", 1), ("$SYS/#", 0), ("devices/+/status", 1)) == b"\x01\x00\x01"
    # car-1 may write only under devices/car-1/: a will elsewhere is refused at CONNECT (0x05).
    for topic in ("devices/car-2/commands", "$SYS/broker/alert"):
        c, code, _ = login(v.port, "car-1", "car-1", will=(topic, '{"do":"wipe-and-reboot"}', 1, True))
        assert code == 5 and c.closed_by_peer(), topic
    assert v.wait_for_log(r"may not publish its will to 'devices/car-2/commands'.*CONNACK 0x05")
    # Control: its own status as the will is accepted and published when it drops.
    c = connected(v.port, "car-1", "car-1", will=("devices/car-1/status", "offline", 1, True))
    c.close()
    assert received_until(disp, "devices/car-1/status") == ["devices/car-1/status"]
    # Nothing was retained on car-2's command topic.
    later = connected(v.port, "dispatcher-2", "dispatcher")
    assert suback(later, 1, ("devices/car-2/commands", 1)) == b"\x01"
    assert until_pingresp(later) == []  # no retained message


def test_wills_are_checked_again_when_published(start_vigil, tmp_path, vigil_binary):
    """A will accepted at CONNECT is not published once a reload took the right away, and a
    persistent session's will is checked against the rules in force at recovery."""
    v = secured(start_vigil, tmp_path, vigil_binary)
    disp = connected(v.port, "dispatcher", "dispatcher")
    suback(disp, 1, ("devices/+/status", 1))
    car1 = connected(v.port, "car-1", "car-1", will=("devices/car-1/status", "offline-1", 1, False))
    car2 = connected(v.port, "car-2", "car-2", will=("devices/car-2/status", "offline-2", 1, False))
    # car-2 loses its right to write; car-1 keeps it.
    (tmp_path / "acl").write_text(ACL.replace("pattern write devices/%u/#", "pattern write devices/car-1/#"))
    v.proc.send_signal(signal.SIGHUP)
    assert v.wait_for_log(r"shard \d+: \d+ clients re-checked against the ACL")
    assert v.wait_for_log(r"reload done$")
    car2.close()
    assert v.wait_for_log(r"client 'car-2' .* may no longer publish its will to 'devices/car-2/status'")
    car1.close()
    assert received_until(disp, "devices/car-1/status") == ["devices/car-1/status"]


def test_wills_published_at_recovery_are_checked(start_vigil, tmp_path, vigil_binary):
    data = tmp_path / "data"
    v = secured(start_vigil, tmp_path, vigil_binary, data_dir=str(data))
    disp = connected(v.port, "dispatcher", "dispatcher", clean=False)
    suback(disp, 1, ("devices/+/status", 1))
    leave(disp)
    cars = [connected(v.port, car, car, clean=False, will=(f"devices/{car}/status", f"lost-{car}", 1, False))
            for car in ("car-1", "car-2")]
    for c, car in zip(cars, ("car-1", "car-2")):
        # A persistent session's SUBACK waits for the store's commit: so did its will.
        assert suback(c, 1, (f"devices/{car}/commands", 1)) == b"\x01"
    v.kill()
    v2 = secured(start_vigil, tmp_path, vigil_binary, data_dir=str(data),
                 acl=ACL.replace("pattern write devices/%u/#", "pattern write devices/car-1/#"))
    assert v2.wait_for_log(r"will of client 'car-2' \(identity 'car-2'\) on 'devices/car-2/status' is not allowed")
    assert v2.wait_for_log(r"1 wills published \(1 not allowed\)")
    disp = resume(v2.port, "dispatcher", "dispatcher")
    # Queued messages go out as the session attaches, before any answer to a later packet.
    # car-1's will was queued for the dispatcher at recovery; car-2's was never published.
    assert until_pingresp(disp) == ["devices/car-1/status"]


def test_a_session_belongs_to_its_identity(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary, workers=4)
    car2 = connected(v.port, "car-2", "car-2", clean=False)
    assert suback(car2, 1, ("devices/car-2/commands", 1)) == b"\x01"
    leave(car2)
    disp = connected(v.port, "dispatcher", "dispatcher")
    publish_acked(disp, "devices/car-2/commands", "queued-1", 1)
    # car-1 asks for car-2's persistent session, then tries to wipe it with a clean one.
    for clean in (False, True):
        c, code, present = login(v.port, "car-2", "car-1", clean=clean)
        assert (code, present) == (5, 0) and c.closed_by_peer(), clean
    assert v.wait_for_log(r"CONNECT of client 'car-2' \(identity 'car-1'\) refused: client id 'car-2' belongs to identity 'car-2'")
    # The owner gets its session and its queued command, and keeps the connection while
    # another identity tries again.
    car2, code, present = login(v.port, "car-2", "car-2", clean=False)
    assert (code, present) == (0, 1)
    assert received_until(car2, "devices/car-2/commands") == ["devices/car-2/commands"]
    c, code, _ = login(v.port, "car-2", "car-1")
    assert code == 5
    publish_acked(disp, "devices/car-2/commands", "live-2", 2)
    p = car2.recv_packet()
    assert (p.topic, p.payload) == ("devices/car-2/commands", b"live-2")
    # Control: the same identity may take its session over (a device reconnecting).
    again, code, present = login(v.port, "car-2", "car-2", clean=False)
    assert (code, present) == (0, 1)
    assert car2.closed_by_peer()


def test_client_id_must_match_the_identity(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary, auth_extra="client_id_must_match = true\n")
    connected(v.port, "car-1", "car-1")
    c, code, _ = login(v.port, "car-1-spare", "car-1")
    assert code == 5 and c.closed_by_peer()
    assert v.wait_for_log(r"client id 'car-1-spare' is not its identity 'car-1' \(client_id_must_match\)")


def test_mutual_tls_and_password_identities_cannot_share_a_session(start_vigil, tmp_path, vigil_binary):
    from pki import make_pki
    from test_09_tls import TlsRaw, tls_client
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    pw = tmp_path / "passwd"
    make_users(vigil_binary, pw, {"car8": "car8-pass"})
    v = start_vigil(2, f"""allow_anonymous = false
[[listener]]
bind = "127.0.0.1"
port = 0
allow_anonymous = false
tls.cert = "{pki / 'server.crt'}"
tls.key = "{pki / 'server.key'}"
tls.ca = "{pki / 'ca.crt'}"
tls.require_certificate = true
tls.use_identity_as_username = true
[auth]
password_file = "{pw}"
""")
    # car7's certificate owns the session "car7".
    dev = TlsRaw(tls_client(pki, "car7", v.tls_port))
    assert dev.connect("car7", clean=False).body[1] == 0
    # car8 (a password user on the plain listener) and car8's certificate cannot take it.
    c, code, _ = login(v.port, "car7", "car8")
    assert code == 5
    other = TlsRaw(tls_client(pki, "car8", v.tls_port))
    assert other.connect("car7", clean=True).body[1] == 5
    dev.send(raw.PINGREQ)
    assert dev.recv_packet().type == 13  # still connected


def test_deny_rules_reached_through_intersecting_wildcards(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary)
    disp = connected(v.port, "dispatcher", "dispatcher", clean=False)
    # devices/+/status intersects the denied devices/car-secret/# without either covering the
    # other: granted, and car-secret's status is withheld; the denied subtree itself is refused.
    assert suback(disp, 1, ("devices/+/status", 1), ("devices/car-secret/status", 1), ("devices/car-secret/#", 0)) == b"\x01\x80\x80"
    secret = connected(v.port, "car-secret", "car-secret")
    car1 = connected(v.port, "car-1", "car-1")
    publish_acked(secret, "devices/car-secret/status", "hidden", 1, retain=True)
    publish_acked(car1, "devices/car-1/status", "visible", 1, retain=True)
    assert received_until(disp, "devices/car-1/status") == ["devices/car-1/status"]
    # Retained messages on a new subscription: the same rule.
    fresh = connected(v.port, "dispatcher-2", "dispatcher")
    assert suback(fresh, 1, ("devices/+/status", 1)) == b"\x01"
    assert until_pingresp(fresh) == ["devices/car-1/status"]
    # Queued for an offline persistent session: the same rule.
    leave(disp)
    publish_acked(secret, "devices/car-secret/status", "hidden-2", 2)
    publish_acked(car1, "devices/car-1/status", "visible-2", 2)
    disp = resume(v.port, "dispatcher", "dispatcher")
    assert received_until(disp, "devices/car-1/status") == ["devices/car-1/status"]
    assert v.wait_for_log(r"denied connects \d+, publishes \d+, deliveries [1-9]")


def test_a_broad_grant_with_a_narrow_deny_grants_the_broad_filter(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary, acl="pattern readwrite #\npattern deny secret/x\n")
    sub = connected(v.port, "watcher", "car-1")
    assert suback(sub, 1, ("#", 1), ("secret/x", 0)) == b"\x01\x80"
    pub = connected(v.port, "writer", "car-2")
    publish_acked(pub, "secret/x", "no", 1)   # denied to write as well: dropped
    publish_acked(pub, "secret/y", "yes", 2)
    assert received_until(sub, "secret/y") == ["secret/y"]


def test_one_coverage_rule_for_acls(start_vigil, tmp_path, vigil_binary):
    v = secured(start_vigil, tmp_path, vigil_binary)
    c = connected(v.port, "dispatcher", "dispatcher")
    # "topic read a/#" grants "a" [MQTT-4.7.1-2]; "topic read #" alone does not reach $SYS
    # (here "$SYS/#" is granted by its own rule, so ask for another '$' topic).
    assert suback(c, 1, ("a", 0), ("$other/#", 0), ("$SYS/#", 0)) == b"\x00\x80\x00"


def test_pattern_rules_with_unsafe_client_ids_deny(start_vigil, tmp_path, vigil_binary):
    acl = "pattern readwrite fleet/#\npattern deny fleet/%c/#\n"
    v = secured(start_vigil, tmp_path, vigil_binary, acl=acl)
    watcher = connected(v.port, "watcher", "dispatcher")
    assert suback(watcher, 1, ("fleet/#", 1)) == b"\x01"
    # A client id with '/' would turn "fleet/%c/#" into "fleet/x/y/#" and escape nothing;
    # it must deny, never fail open.
    for cid in ("x/y", "x+", "#"):
        c = connected(v.port, cid, "car-1")
        assert suback(c, 1, ("fleet/#", 0)) == b"\x80", cid
        publish_acked(c, "fleet/z/escaped", "x", 2)
    ok = connected(v.port, "car-7", "car-1")
    publish_acked(ok, "fleet/car-7/pos", "its own subtree is denied", 1)
    publish_acked(ok, "fleet/z/pos", "marker", 2)
    assert received_until(watcher, "fleet/z/pos") == ["fleet/z/pos"]
    assert v.wait_for_log(r"may not publish to 'fleet/z/escaped'")


def test_tokens_limit_ws_subscriptions_message_by_message(start_vigil, tmp_path, vigil_binary):
    tokens = tmp_path / "tokens"
    statuses = issue(vigil_binary, tokens, "statuses", "--subscribe", "devices/+/status,alarms")
    v = start_vigil(2, f'[http]\ntokens_file = "{tokens}"\n')
    feeder = connected_anon(v.port, "feeder")
    publish_acked(feeder, "devices/car-1/status", "on", 1, retain=True)
    publish_acked(feeder, "devices/car-1/location", '{"lat":1}', 2, retain=True)

    async def run():
        async with websockets.connect(f"ws://127.0.0.1:{v.http_port}/ws?access_token={statuses}") as ws:
            await request(ws, op="subscribe", id="all", filters=["devices/#"])
            await next_op(ws, "subscribed")
            snap, _ = await next_op(ws, "snapshot")
            assert [m["topic"] for m in snap["messages"]] == ["devices/car-1/status"]
            publish_acked(feeder, "devices/car-1/location", '{"lat":2}', 3)
            publish_acked(feeder, "devices/car-1/status", '"off"', 4)
            msg, seen = await next_op(ws, "message")
            assert msg["topic"] == "devices/car-1/status" and len(seen) == 1
            # Granted: "alarms/#" also matches "alarms", which the token may read.
            await request(ws, op="subscribe", id="al", filters=["alarms/#"])
            ok, _ = await next_op(ws, "subscribed")
            assert ok["id"] == "al"
    asyncio.run(run())


def connected_anon(port, client_id):
    c = raw.RawClient(port)
    assert c.connect(client_id).body[1] == 0
    return c


def test_control_characters_in_client_ids_are_refused(broker):
    """A client id with a newline once forged a whole log line. Control characters are refused
    in client ids, usernames, topics and filters [MQTT-1.5.3]; log lines escape them anyway."""
    forged = "2030-01-01T00:00:00.000Z error forged line"
    c = raw.RawClient(broker.port)
    c.send(raw.connect(f"evil\n{forged}\r\x1b[31m"))
    assert c.closed_by_peer()  # no CONNACK
    p = raw.RawClient(broker.port)
    assert p.connect("fine").body[1] == 0
    p.send(raw.publish("devices/car\n1/status", "x"))
    assert p.closed_by_peer()
    assert broker.wait_for_log(r"control character")
    assert not any(line.startswith(forged) for line in broker.lines)
