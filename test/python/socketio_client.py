"""A real python-socketio client against the bridge, driven by test/e2e/python-client.test.ts.

    socketio_client.py join URL TRANSPORT TRIP_ID   connect, join the trip, wait for one trip:updated
    socketio_client.py handshake URL ORIGIN...      bare engine.io handshakes (WebSocket, polling) per ORIGIN

The token is signed here, as a native client's backend would: HS256 from JWT_SECRET, JWT_ISSUER and
JWT_AUDIENCE in the environment, for user BRIDGE_USER with the trip in `trips`. Every step is printed as
one JSON line, so that the test can react (publish once the trip is joined) and check what happened.
"""
import json
import os
import sys
import threading
import time

try:
    import jwt
    import socketio
    import websocket  # python-engineio's WebSocket transport (websocket-client)
    import requests  # python-engineio's polling transport
except ImportError as err:
    print(f"missing python module: {err.name}", file=sys.stderr, flush=True)
    sys.exit(3)

STEP_TIMEOUT = 10


def say(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def token(env, trip_id):
    now = int(time.time())
    claims = {"sub": env["BRIDGE_USER"], "trips": [trip_id], "iss": env["JWT_ISSUER"],
              "aud": env["JWT_AUDIENCE"], "iat": now, "exp": now + 600}
    return jwt.encode(claims, env["JWT_SECRET"], algorithm="HS256")


def join(url, transport, trip_id, env):
    sio = socketio.Client(reconnection=False)
    connected, updated = threading.Event(), threading.Event()

    @sio.on("connected")
    def on_connected(data):
        say("connected", userId=data["userId"], transport=sio.transport())
        connected.set()

    @sio.on("trip:updated")
    def on_updated(data):
        say("updated", event=data)
        updated.set()

    try:
        sio.connect(url, auth={"token": token(env, trip_id)}, transports=[transport], wait_timeout=STEP_TIMEOUT)
    except socketio.exceptions.ConnectionError as err:
        say("refused", error=str(err))
        return 1
    try:
        if not connected.wait(STEP_TIMEOUT):
            say("timeout", waiting="connected")
            return 1
        say("joined", ack=sio.call("trip:join", {"tripId": trip_id}, timeout=STEP_TIMEOUT))
        if not updated.wait(STEP_TIMEOUT):
            say("timeout", waiting="trip:updated")
            return 1
        return 0
    finally:
        sio.disconnect()


def handshakes(url, *origins):
    """Opens (and closes) one engine.io session per transport and origin; prints the HTTP statuses."""
    path = "/socket.io/?EIO=4&transport="
    for origin in origins:
        try:
            websocket.create_connection(url.replace("http", "ws", 1) + path + "websocket", origin=origin,
                                        timeout=STEP_TIMEOUT).close()
            ws_status = 101
        except websocket.WebSocketBadStatusException as err:
            ws_status = err.status_code
        polling = requests.get(url + path + "polling", headers={"Origin": origin}, timeout=STEP_TIMEOUT)
        say("handshake", origin=origin, websocket=ws_status, polling=polling.status_code)
    return 0


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    sys.exit(join(*args, os.environ) if mode == "join" else handshakes(*args))
